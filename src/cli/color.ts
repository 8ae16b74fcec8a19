import { Chalk, chalkStderr, supportsColor } from 'chalk';

/**
 * Colours for what goes to stderr: chalk decides from the terminal, and NO_COLOR (any non-empty
 * value, https://no-color.org) turns colour off, which this chalk version does not check itself.
 */
export const stderrColor = process.env.NO_COLOR ? new Chalk({ level: 0 }) : chalkStderr;

/** The same for stdout (the status view). */
export const stdoutColor = new Chalk({ level: process.env.NO_COLOR || supportsColor === false ? 0 : supportsColor.level });
