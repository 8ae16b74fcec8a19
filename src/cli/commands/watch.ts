import type { Argv, CommandModule } from 'yargs';
import { normalizeKey } from '../../api/key-path.ts';
import type { V2Event } from '../../api/wire.ts';
import { HistoryClearedError, Watcher } from '../../client/watcher.ts';
import { runChild } from '../child.ts';
import { UsageError } from '../errors.ts';
import type { GlobalArgs } from '../global-options.ts';
import { formatOf } from '../global-options.ts';
import { processIo } from '../io.ts';
import type { OutputFormat } from '../printers.ts';
import { descendants } from '../printers.ts';
import type { SessionDeps } from '../run-keys-command.ts';
import { runSessionCommand } from '../run-keys-command.ts';

export interface WatchOptions {
  readonly key: string;
  readonly recursive: boolean;
  readonly afterIndex?: number;
  readonly forever: boolean;
  /** Stop after this many events (default: never). */
  readonly count?: number;
  /** Run once per event instead of printing it. */
  readonly command?: readonly string[];
  readonly format: OutputFormat;
}

/** One line per event: `set /a/b=value`, `delete /a/b`, `create /dir/` for a directory. */
export function formatWatchEvent(event: V2Event): string {
  const node = event.node ?? {};
  if (node.dir) return `${event.action} ${node.key ?? ''}/`;
  return node.value === undefined ? `${event.action} ${node.key ?? ''}` : `${event.action} ${node.key ?? ''}=${node.value}`;
}

/** The event as environment variables for CMD (kvctl's names, and etcdctl exec-watch's). */
export function watchEnv(event: V2Event): Record<string, string> {
  const values = {
    ACTION: event.action,
    KEY: event.node?.key ?? '',
    VALUE: event.node?.value ?? '',
    MODIFIED_INDEX: String(event.node?.modifiedIndex ?? ''),
    PREV_VALUE: event.prevNode?.value ?? '',
  };
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(values)) {
    env[`KVCTL_WATCH_${name}`] = value;
    if (name !== 'PREV_VALUE') env[`ETCD_WATCH_${name}`] = value;
  }
  return env;
}

/** What a watch that lost its place reports: the current state, as `get` events of each key. */
function stateAsEvents(state: V2Event | undefined): V2Event[] {
  if (state?.node === undefined) return [];
  const nodes = state.node.dir ? descendants(state.node).filter((n) => !n.dir) : [state.node];
  return nodes.map((node) => ({ action: 'get', node }));
}

export interface WatchDeps extends SessionDeps {
  /** Runs CMD for one event; resolves with its exit code. */
  readonly exec?: (command: readonly string[], env: Record<string, string>) => Promise<number>;
}

/**
 * Prints (or runs CMD for) each event on the key, in order, each exactly once, until `count`
 * events or a signal. With `forever`, a watch that fell out of the server's history re-reads the
 * key, reports the gap and goes on; otherwise it ends with HistoryClearedError.
 */
export async function runWatch(options: WatchOptions, deps: WatchDeps): Promise<void> {
  const { io } = deps;
  const exec = deps.exec ?? ((command, env) => runChild(command, { env }));
  const watcher = new Watcher(deps.client, {
    key: options.key,
    recursive: options.recursive,
    ...(options.afterIndex !== undefined ? { afterIndex: options.afterIndex } : {}),
    retryRounds: options.forever ? Infinity : 3,
    signal: deps.signal,
    warn: (message) => io.err(`warning: ${message}`),
  });
  const deliver = async (event: V2Event): Promise<void> => {
    if (options.command === undefined) {
      io.out(options.format === 'json' ? JSON.stringify(event) : formatWatchEvent(event));
      return;
    }
    const code = await exec(options.command, watchEnv(event));
    if (code !== 0) io.err(`warning: ${options.command.join(' ')} exited with ${code} for ${formatWatchEvent(event)}`);
  };
  for (let delivered = 0; options.count === undefined || delivered < options.count; ) {
    let event: V2Event;
    try {
      event = await watcher.next();
    } catch (error) {
      if (!(error instanceof HistoryClearedError) || !options.forever) throw error;
      io.err(`warning: ${error.message}; re-reading ${options.key} and going on from its current state`);
      for (const current of stateAsEvents(await watcher.resync())) await deliver(current);
      continue;
    }
    await deliver(event);
    delivered++;
  }
}

interface WatchArgs extends GlobalArgs {
  /** Upper case: `--key` is the TLS client key option. */
  KEY: string;
  recursive: boolean;
  afterIndex?: number;
  forever: boolean;
  count?: number;
  '--'?: Array<string | number>;
}

export const watchCommand: CommandModule<GlobalArgs, WatchArgs> = {
  command: 'watch <KEY> [-- command...]',
  describe: 'print each change of a key (or run a command per change), never missing one',
  builder: (yargs) =>
    (yargs as Argv<GlobalArgs>)
      .positional('KEY', { type: 'string', demandOption: true, describe: 'the key or directory to watch' })
      .option('recursive', { alias: 'r', type: 'boolean', default: false, describe: 'watch everything below a directory' })
      .option('after-index', { type: 'number', describe: 'start with the events after this index (from the server\'s history of 1,000 events)' })
      .option('forever', { type: 'boolean', default: false, describe: 'never give up: retry when no endpoint answers, and when history was cleared re-read the key, report the gap and go on' })
      .option('count', { type: 'number', describe: 'exit after this many events' })
      .example('$0 watch -r /config', 'print every change below /config: "set /config/db=10.0.0.5"')
      .example('$0 watch /config/db --count 1', 'wait for the next change of one key')
      .example('$0 watch -r /config -- sh -c \'echo "$KVCTL_WATCH_ACTION $KVCTL_WATCH_KEY"\'', 'run a command per change (env KVCTL_WATCH_ACTION, _KEY, _VALUE, _MODIFIED_INDEX, _PREV_VALUE)')
      .example('$0 watch -r /jobs --after-index 41 -w json', 'replay from index 42 as JSON lines') as unknown as Argv<WatchArgs>,
  handler: (argv) => {
    const command = argv['--']?.map(String);
    if (argv.count !== undefined && !(Number.isInteger(argv.count) && argv.count > 0)) throw new UsageError(`--count must be a positive whole number, not ${argv.count}`);
    if (argv.afterIndex !== undefined && !(Number.isInteger(argv.afterIndex) && argv.afterIndex >= 0)) throw new UsageError(`--after-index must be a whole number, not ${argv.afterIndex}`);
    return runSessionCommand(argv, processIo, (deps) =>
      runWatch(
        {
          key: normalizeKey(argv.KEY),
          recursive: argv.recursive,
          ...(argv.afterIndex !== undefined ? { afterIndex: argv.afterIndex } : {}),
          forever: argv.forever,
          ...(argv.count !== undefined ? { count: argv.count } : {}),
          ...(command !== undefined && command.length > 0 ? { command } : {}),
          format: formatOf(argv),
        },
        deps,
      ),
    );
  },
};
