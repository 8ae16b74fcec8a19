import { programFor, route } from './cli/dispatch.ts';

// A reader that went away (`kvctl watch ... | head -1`) ends the program quietly, as for any Unix tool.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw error;
});

const invoked = programFor(process.argv0, process.argv[1]);
const { program, args } = route(invoked, process.argv.slice(2));
const run = program === 'kvctl' ? (await import('./cli/kvctl.ts')).kvctl : (await import('./cli/kvd.ts')).kvd;
process.exitCode = await run(args);
