import yargs from 'yargs';
import { VERSION } from '../api/version.ts';
import { doctorCommand } from './commands/doctor.ts';
import { serveCommand } from './commands/serve.ts';
import { exitCodeTable } from './exit-code.ts';
import { runProgram } from './run-program.ts';

/** The kvd command tree (server side); `kvd ctl ...` is dispatched to kvctl before this. */
export function kvdParser(args: readonly string[]) {
  return yargs([...args])
    .scriptName('kvd')
    .usage(
      'kvd: a Raft-replicated key-value store that speaks etcd\'s v2 API\n\n' +
        'Usage: $0 <command> [options]\n\n' +
        'kvd ctl <command> runs the client (the same as kvctl <command>).',
    )
    .env('KVD_')
    .command(serveCommand)
    .command(doctorCommand)
    .epilogue(exitCodeTable());
}

export function kvd(args: readonly string[]): Promise<number> {
  return runProgram(kvdParser(args), args, VERSION, 'KVD_');
}
