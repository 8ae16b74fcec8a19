import { programFor, route } from './cli/dispatch.ts';

const invoked = programFor(process.argv0, process.argv[1]);
const { program, args } = route(invoked, process.argv.slice(2));
const run = program === 'kvctl' ? (await import('./cli/kvctl.ts')).kvctl : (await import('./cli/kvd.ts')).kvd;
process.exitCode = await run(args);
