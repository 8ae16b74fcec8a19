import path from 'node:path';

export type Program = 'kvd' | 'kvctl';

/**
 * Which program the executable is, from the name it was invoked as (argv0: `kvctl`, `./bin/kvd`),
 * or, when run from source as `node script`, from the script's name.
 */
export function programFor(argv0: string, script: string | undefined): Program {
  for (const candidate of [argv0, script ?? '']) {
    const name = path.basename(candidate).replace(/\.[cm]?[jt]s$/, '');
    if (name.startsWith('kvctl')) return 'kvctl';
    if (name.startsWith('kvd')) return 'kvd';
  }
  return 'kvd';
}

/** The program to run and its arguments after the cross-dispatch `kvd ctl ...` / `kvctl serve ...`. */
export function route(program: Program, args: readonly string[]): { program: Program; args: readonly string[] } {
  if (program === 'kvd' && args[0] === 'ctl') return { program: 'kvctl', args: args.slice(1) };
  if (program === 'kvctl' && args[0] === 'serve') return { program: 'kvd', args };
  return { program, args };
}

/** `--version`, `-v` or `version` alone (etcdctl's `version` command included). */
export function asksForVersion(args: readonly string[]): boolean {
  return args.length === 1 && ['--version', '-v', 'version'].includes(args[0]!);
}
