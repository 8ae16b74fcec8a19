import { stderrColor } from './color.ts';
import { UsageError, describeError, exitCodeFor } from './errors.ts';
import { processIo } from './io.ts';
import { Interrupted } from './signals.ts';

/** The one place where an error becomes a line on stderr: returns the exit code. */
export function reportError(error: unknown): number {
  // Stopped by a signal: the user asked for it, nothing to explain.
  if (error instanceof Interrupted) return error.exitCode;
  // Red on a terminal; plain when stderr is not one or NO_COLOR is set.
  processIo.err(describeError(error).replace(/^Error:/, stderrColor.red.bold('Error:')));
  if (error instanceof UsageError) processIo.err('(see --help)');
  return exitCodeFor(error);
}
