import { VERSION } from './api/version.ts';
import type { Program } from './cli/dispatch.ts';
import { asksForVersion, programFor, route } from './cli/dispatch.ts';

// A reader that went away (`kvctl watch ... | head -1`) ends the program quietly, as for any Unix tool.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw error;
});

/**
 * Loads only what the command needs: `--version` nothing; kvctl's common commands the quick path,
 * without yargs; the rest the whole command tree (programs.ts: in the executable, a second script
 * compiled only then; the server's code only for `kvd serve`).
 */
async function main(program: Program, args: readonly string[]): Promise<number> {
  if (asksForVersion(args)) {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  if (program === 'kvctl') {
    const quick = await (await import('./cli/quick-path.ts')).runQuick(args, process.env);
    if (quick !== undefined) return quick;
    return (await import('./cli/programs.ts')).kvctl(args);
  }
  return (await import('./cli/programs.ts')).kvd(args);
}

const invoked = programFor(process.argv0, process.argv[1]);
const { program, args } = route(invoked, process.argv.slice(2));
process.exitCode = await main(program, args);
