import type { Argv } from 'yargs';

/**
 * Starts a command's builder so that its --help lists its positionals and own options before the
 * global options: yargs lists option groups in the order they are made, and the global options'
 * group, made at the root, would come first otherwise.
 */
export function ownOptionsFirst<T>(y: Argv<T>): Argv<T> {
  return y.group([], 'Positionals:').group([], 'Options:');
}

/** A subcommand's builder with its own options first (ownOptionsFirst) and an example of its use. */
export function withExample(builder: ((y: Argv) => Argv) | undefined, command: string, what: string): (y: Argv) => Argv {
  return (y) => {
    const grouped = ownOptionsFirst(y);
    return (builder === undefined ? grouped : builder(grouped)).example(command, what);
  };
}
