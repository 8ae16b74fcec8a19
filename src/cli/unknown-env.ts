import type { Argv, MiddlewareFunction } from 'yargs';

/** yargs' getOptions(), which its type definitions leave out. */
interface ParserOptions {
  getOptions(): { key: Record<string, unknown>; alias: Record<string, string[]> };
}

/**
 * yargs' `.env(PREFIX)` turns every PREFIX_X variable into an option `--x`, and strict mode then
 * refuses one that the command does not take ("Unknown argument: foo"): `KVD_BIN=... kvd serve`
 * would not start. etcd ignores an ETCD_ variable it does not know, with a warning; so do kvd and
 * kvctl. This middleware drops such options, one warning per variable, before yargs validates.
 */
export function ignoreUnknownEnv(parser: Argv<unknown>, prefix: string, args: readonly string[], warn: (line: string) => void, env: NodeJS.ProcessEnv = process.env): MiddlewareFunction {
  return (argv) => {
    // The command's options: yargs resets them on the parser for the command it runs.
    const { key, alias } = (parser as unknown as ParserOptions).getOptions();
    const known = new Set([...Object.keys(key), ...Object.values(alias).flat()]);
    for (const variable of Object.keys(env)) {
      if (!variable.startsWith(prefix) || variable === prefix) continue;
      const kebab = variable.slice(prefix.length).toLowerCase().replaceAll('_', '-');
      const camel = kebab.replace(/-([a-z0-9])/g, (_, letter: string) => letter.toUpperCase());
      // Given as a flag too: strict mode says what is wrong with it.
      if (known.has(kebab) || known.has(camel) || args.some((arg) => arg === `--${kebab}` || arg.startsWith(`--${kebab}=`))) continue;
      warn(`warning: ignoring the environment variable ${variable}: this command has no --${kebab}`);
      for (const name of [kebab, camel]) delete argv[name];
    }
  };
}
