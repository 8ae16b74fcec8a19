import os from 'node:os';
import type { Argv, CommandModule } from 'yargs';
import { parseDuration } from '../../api/duration.ts';
import type { V2Node } from '../../api/wire.ts';
import { KVCTL_DIR } from '../../client/services.ts';
import type { Turn } from '../../client/turn.ts';
import { TurnTimeout, takeTurn } from '../../client/turn.ts';
import { runChild } from '../child.ts';
import type { GlobalArgs } from '../global-options.ts';
import { formatOf } from '../global-options.ts';
import { UsageError } from '../errors.ts';
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
  /** How many may hold it at once: 1 is a mutex, more a counting semaphore. */
  readonly limit: number;
  /** Give up (exit 3) after this long in line; 0 (--try): unless it is free at once. Default: wait. */
  readonly waitMs?: number;
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
  // Its own process group, so that a lost session stops everything CMD started; not when CMD
  // may read the terminal (then only CMD itself is stopped).
  const exec = deps.exec ?? ((command, stop) => runChild(command, { stop, ownGroup: !process.stdin.isTTY }));
  const owner = `${os.hostname()}:${process.pid}`;
  const turn: Turn = await takeTurn(deps.client, `${LOCKS_DIR}/${options.name}`, owner, {
    ttlSeconds: options.ttlSeconds,
    signal: deps.signal,
    warn: (message) => deps.io.err(`warning: ${message}`),
    wait: {
      limit: options.limit,
      ...(options.waitMs !== undefined ? { deadline: Date.now() + options.waitMs } : {}),
      onWait: (holders) => deps.io.err(`waiting for lock ${options.name}: held by ${holderNames(holders)}`),
    },
  }).catch((error: unknown) => {
    if (!(error instanceof TurnTimeout)) throw error;
    const waited = options.waitMs ? ` (gave up after ${options.waitMs} ms)` : '';
    throw new TurnTimeout(`lock ${options.name} is held by ${holderNames(error.holders)}${waited}`, error.holders);
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

function checkLimit(limit: number): number {
  if (!(Number.isInteger(limit) && limit >= 1)) throw new UsageError(`--limit must be a whole number, at least 1, not ${limit}`);
  return limit;
}

function holderNames(holders: readonly V2Node[]): string {
  return holders.map((holder) => holder.value ?? holder.key).join(', ');
}

interface LockArgs extends GlobalArgs {
  name: string;
  ttl: number;
  limit: number;
  try: boolean;
  waitTimeout?: string;
  '--'?: Array<string | number>;
}

export const lockCommand: CommandModule<GlobalArgs, LockArgs> = {
  command: 'lock <name> [-- command...]',
  describe: 'take a distributed lock; hold it until signalled, or run a command under it',
  builder: (yargs) =>
    ttlOption(yargs as Argv<GlobalArgs>, 'lock', 10)
      .positional('name', { type: 'string', demandOption: true, describe: 'the lock\'s name (kept under /_kvctl/locks/)' })
      .option('limit', { type: 'number', default: 1, describe: 'how many may hold it at once: a counting semaphore (as consul lock -n); every holder must give the same' })
      .option('try', { type: 'boolean', default: false, describe: 'do not wait: exit 3 at once if it is held' })
      .option('wait-timeout', { type: 'string', describe: 'give up (exit 3) if it is still held after this long, e.g. 30s (default: wait for ever)' })
      .example('$0 lock deploy', 'print the lock key once held; release on Ctrl-C or SIGTERM')
      .example('$0 lock deploy -- ./deploy.sh prod', 'run a command under the lock and exit with its code')
      .example('$0 lock deploy --try -- ./deploy.sh prod', 'run it only if nobody holds the lock now (else exit 3)')
      .example('$0 lock encoders --limit 3 -- ./encode.sh', 'at most 3 encoders at once across the cluster')
      .epilogue(`Waiters queue in order of arrival; each watches only the one ahead of it. If the lock's session expires while it is held (the cluster was unreachable for --ttl seconds), the command is stopped and kvctl exits with 6.`) as unknown as Argv<LockArgs>,
  handler: (argv) => {
    if (argv.try && argv.waitTimeout !== undefined) throw new UsageError('--try and --wait-timeout go apart: --try is --wait-timeout 0');
    const command = argv['--']?.map(String);
    const options: LockOptions = {
      name: segmentName('the lock name', argv.name),
      ttlSeconds: checkTtl(argv.ttl),
      ...(command !== undefined && command.length > 0 ? { command } : {}),
      format: formatOf(argv),
      limit: checkLimit(argv.limit),
      ...(argv.try ? { waitMs: 0 } : argv.waitTimeout !== undefined ? { waitMs: parseDuration(argv.waitTimeout) } : {}),
    };
    return runSessionCommand(argv, processIo, async (deps) => {
      process.exitCode = await runLock(options, deps);
    });
  },
};
