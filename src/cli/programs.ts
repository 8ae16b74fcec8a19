/**
 * kvctl's and kvd's whole command trees (yargs, every command, the server and the terminal UI),
 * behind one module that main.ts imports only when the quick path does not answer. The build
 * keeps this module and everything it imports out of the executable's main script, so that
 * `--version` and the quick path never compile them (scripts/build.mjs, "two scripts").
 */
export async function kvctl(args: readonly string[]): Promise<number> {
  return (await import('./kvctl.ts')).kvctl(args);
}

export async function kvd(args: readonly string[]): Promise<number> {
  return (await import('./kvd.ts')).kvd(args);
}
