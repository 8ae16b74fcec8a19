import os from 'node:os';
import type { Argv, CommandModule } from 'yargs';
import { KVCTL_DIR } from '../../client/services.ts';
import type { Turn } from '../../client/turn.ts';
import { takeTurn } from '../../client/turn.ts';
import { runChild } from '../child.ts';
import type { GlobalArgs } from '../global-options.ts';
import { formatOf } from '../global-options.ts';
import { processIo } from '../io.ts';
import type { OutputFormat } from '../printers.ts';
import type { SessionDeps } from '../run-keys-command.ts';
import { runSessionCommand } from '../run-keys-command.ts';
import { checkTtl, holdUntil, segmentName, ttlOption } from '../session-options.ts';

export const LOCKS_DIR = `${KVCTL_DIR}/locks`;

export interface LockOptions {
  readonly name: string;
  readonly ttlSeconds: number;
  /** Run while holding the lock; without it, hold until signalled. */
  readonly command?: readonly string[];
  readonly format: OutputFormat;
}

export interface LockDeps extends SessionDeps {
  /** Runs CMD; stops it when `stop` aborts; resolves with its exit code. */
  readonly exec?: (command: readonly string[], stop: AbortSignal) => Promise<number>;
}

/**
 * Takes the lock NAME (a fair mutex: first come, first served), then either holds it until
 * signalled or runs CMD under it; resolves with the exit code (CMD's). If the lock's session is lost while
 * held, CMD is stopped and the command fails with LeaseLostError: the lock is never held by two.
 */
export async function runLock(options: LockOptions, deps: LockDeps): Promise<number> {
  const exec = deps.exec ?? ((command, stop) => runChild(command, { stop }));
  const owner = `${os.hostname()}:${process.pid}`;
  const turn: Turn = await takeTurn(deps.client, `${LOCKS_DIR}/${options.name}`, owner, {
    ttlSeconds: options.ttlSeconds,
    signal: deps.signal,
    warn: (message) => deps.io.err(`warning: ${message}`),
  });
  try {
    if (options.command === undefined) {
      deps.io.out(options.format === 'json' ? JSON.stringify({ name: options.name, key: turn.key }) : turn.key);
      return await holdUntil(deps.signal, turn.lost);
    }
    const code = await exec(options.command, turn.lost);
    if (turn.lost.aborted) throw turn.lost.reason;
    return code;
  } finally {
    await turn.release().catch((error: Error) => deps.io.err(`warning: could not release ${turn.key} (${error.message}); it expires in ${options.ttlSeconds}s`));
  }
}

interface LockArgs extends GlobalArgs {
  name: string;
  ttl: number;
  '--'?: Array<string | number>;
}

export const lockCommand: CommandModule<GlobalArgs, LockArgs> = {
  command: 'lock <name> [-- command...]',
  describe: 'take a distributed lock; hold it until signalled, or run a command under it',
  builder: (yargs) =>
    ttlOption(yargs as Argv<GlobalArgs>, 'lock', 10)
      .positional('name', { type: 'string', demandOption: true, describe: 'the lock\'s name (kept under /_kvctl/locks/)' })
      .example('$0 lock deploy', 'print the lock key once held; release on Ctrl-C or SIGTERM')
      .example('$0 lock deploy -- ./deploy.sh prod', 'run a command under the lock and exit with its code')
      .epilogue(`Waiters queue in order of arrival; each watches only the one ahead of it. If the lock's session expires while it is held (the cluster was unreachable for --ttl seconds), the command is stopped and kvctl exits with 6.`) as unknown as Argv<LockArgs>,
  handler: (argv) => {
    const command = argv['--']?.map(String);
    const options: LockOptions = {
      name: segmentName('the lock name', argv.name),
      ttlSeconds: checkTtl(argv.ttl),
      ...(command !== undefined && command.length > 0 ? { command } : {}),
      format: formatOf(argv),
    };
    return runSessionCommand(argv, processIo, async (deps) => {
      process.exitCode = await runLock(options, deps);
    });
  },
};
