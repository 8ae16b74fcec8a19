import type { Argv, CommandModule, Options } from 'yargs';
import { normalizeKey } from '../../api/key-path.ts';
import type { V2Event } from '../../api/wire.ts';
import type { GlobalArgs, KeysDeps } from '../global-options.ts';
import { formatOf } from '../global-options.ts';
import { processIo } from '../io.ts';
import type { OutputFormat } from '../printers.ts';
import { descendants, printEvent } from '../printers.ts';
import { runKeysCommand } from '../run-keys-command.ts';

export const CONSISTENCY = ['l', 's'] as const;
export type Consistency = (typeof CONSISTENCY)[number];

export interface GetOptions {
  readonly key: string;
  readonly recursive: boolean;
  readonly sorted: boolean;
  /** l: linearizable (quorum read through the leader), s: serializable (the member's local store). */
  readonly consistency: Consistency;
  readonly format: OutputFormat;
}

/** A file prints its value; a directory prints `key=value` per file and `key/` per directory. */
export function formatGet(event: V2Event): string[] {
  const node = event.node;
  if (node === undefined) return [];
  if (!node.dir) return [node.value ?? ''];
  return descendants(node).map((child) => (child.dir ? `${child.key}/` : `${child.key}=${child.value ?? ''}`));
}

export async function runGet(options: GetOptions, deps: KeysDeps): Promise<void> {
  const { event } = await deps.client.get(options.key, {
    recursive: options.recursive,
    sorted: options.sorted,
    quorum: options.consistency === 'l',
  });
  printEvent(deps.io, options.format, event, formatGet);
}

interface GetArgs extends GlobalArgs {
  /** Upper case: `--key` is the TLS client key option. */
  KEY: string;
  recursive: boolean;
  sorted: boolean;
  consistency: Consistency;
}

/** get's options as data, for yargs and for the quick path. */
export const GET_OPTIONS: Record<string, Options> = {
  recursive: { alias: 'r', type: 'boolean', default: false, describe: 'include everything below a directory' },
  sorted: { type: 'boolean', default: false, describe: 'sort the children of directories by key' },
  consistency: {
    choices: CONSISTENCY,
    default: 'l' as Consistency,
    describe: 'l: linearizable read through the leader; s: the local member\'s data, possibly stale',
  },
};

export const getCommand: CommandModule<GlobalArgs, GetArgs> = {
  command: 'get <KEY>',
  describe: 'print the value of a key, or the contents of a directory',
  builder: (yargs) =>
    (yargs as Argv<GlobalArgs>)
      .positional('KEY', { type: 'string', demandOption: true, describe: 'the key, e.g. /config/db' })
      .options(GET_OPTIONS)
      .example('$0 get /config/db', 'print one value')
      .example('$0 get -r --sorted /config', 'print every key=value below /config') as unknown as Argv<GetArgs>,
  handler: (argv) =>
    runKeysCommand(argv, processIo, (deps) =>
      runGet(
        {
          key: normalizeKey(argv.KEY),
          recursive: argv.recursive,
          sorted: argv.sorted,
          consistency: argv.consistency,
          format: formatOf(argv),
        },
        deps,
      ),
      'a linearizable read',
    ),
};
