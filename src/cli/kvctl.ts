import path from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import yargs from 'yargs';
import { VERSION } from '../api/version.ts';
import { authCommand } from './commands/auth.ts';
import { benchCommand } from './commands/bench.ts';
import { delCommand, rmdirCommand } from './commands/del.ts';
import { getCommand } from './commands/get.ts';
import { lsCommand } from './commands/ls.ts';
import { memberCommand } from './commands/member.ts';
import { mkdirCommand } from './commands/mkdir.ts';
import { mkCommand, putCommand, updateCommand } from './commands/put.ts';
import { discoverCommand } from './commands/discover.ts';
import { electCommand } from './commands/elect.ts';
import { endpointCommand } from './commands/endpoint.ts';
import { lockCommand } from './commands/lock.ts';
import { queueCommand } from './commands/queue.ts';
import { registerCommand } from './commands/register.ts';
import { roleCommand } from './commands/role.ts';
import { snapshotCommand } from './commands/snapshot.ts';
import { statusCommand } from './commands/status.ts';
import { txnCommand } from './commands/txn.ts';
import { userCommand } from './commands/user.ts';
import { watchCommand } from './commands/watch.ts';
import { exportCommand } from './commands/export.ts';
import { importCommand } from './commands/import.ts';
import { mirrorCommand } from './commands/mirror.ts';
import { exitCodeTable } from './exit-code.ts';
import type { GlobalArgs } from './global-options.ts';
import { addGlobalOptions } from './global-options.ts';
import { ownOptionsFirst } from './help-layout.ts';
import { processIo } from './io.ts';
import { runProgram } from './run-program.ts';

export const COMPLETION_SHELLS = ['bash', 'zsh', 'fish'] as const;
export type CompletionShell = (typeof COMPLETION_SHELLS)[number];

type AnyCommand = CommandModule<GlobalArgs, never>;

const COMMANDS = [
  getCommand, putCommand, delCommand, lsCommand, mkdirCommand, mkCommand, updateCommand, rmdirCommand, txnCommand, memberCommand, watchCommand,
  lockCommand, electCommand, queueCommand, registerCommand, discoverCommand, endpointCommand, statusCommand, benchCommand,
  userCommand, roleCommand, authCommand, snapshotCommand, exportCommand, importCommand, mirrorCommand,
] as unknown as readonly AnyCommand[];

/** The command with its own options listed before the global ones in its --help. */
function withOwnOptionsFirst(command: AnyCommand): AnyCommand {
  const { builder } = command;
  return {
    ...command,
    builder: (y) => {
      const grouped = ownOptionsFirst(y);
      return (typeof builder === 'function' ? builder(grouped) : grouped.options(builder ?? {})) as Argv<never>;
    },
  };
}

/** The kvctl command tree, for --help, completions and tests. */
export function kvctlParser(args: readonly string[]) {
  return addGlobalOptions(yargs([...args]))
    .scriptName('kvctl')
    .usage('kvctl: the command-line client of kvd (and of any etcd v2 API endpoint)\n\nUsage: $0 <command> [options]')
    .env('KVCTL_')
    // `kvctl watch KEY -- CMD ARGS...`: what follows `--` is the command, not kvctl's options.
    .parserConfiguration({ 'populate--': true })
    .command(COMMANDS.map(withOwnOptionsFirst))
    .command('version', 'print kvctl\'s version (the same as --version)', (y: Argv) => y.example('$0 version', 'print the version'), () => processIo.out(VERSION))
    .command(
      'completion [shell]',
      'print a shell completion script (bash, zsh or fish; default: your $SHELL)',
      (y: Argv) =>
        y
          .positional('shell', { choices: COMPLETION_SHELLS })
          .example('$0 completion bash > /etc/bash_completion.d/kvctl', 'install bash completion'),
      async (argv: { shell?: CompletionShell }) => processIo.out((await completionScript(argv.shell ?? loginShell())).trimEnd()),
    )
    // The scripts call `kvctl --get-yargs-completions WORDS...`; this hidden command enables that.
    .completion('__completion-script', false)
    .epilogue(exitCodeTable());
}

function loginShell(): CompletionShell {
  const name = path.basename(process.env.SHELL ?? '');
  return COMPLETION_SHELLS.find((shell) => shell === name) ?? 'bash';
}

/** yargs' completion script for a shell; yargs chooses the template from $SHELL when a parser is made. */
export function completionScript(shell: CompletionShell): Promise<string> {
  const saved = process.env.SHELL;
  process.env.SHELL = `/bin/${shell}`;
  const parser = kvctlParser([]).completion('completion', false);
  if (saved === undefined) delete process.env.SHELL;
  else process.env.SHELL = saved;
  return new Promise((resolve, reject) => {
    parser.parse(['completion'], {}, (error, _argv, output) => (error ? reject(error) : resolve(output)));
  });
}

export function kvctl(args: readonly string[]): Promise<number> {
  return runProgram(kvctlParser(args), args, VERSION, 'KVCTL_');
}
