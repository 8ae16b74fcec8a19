import type { Argv, CommandModule, Options } from 'yargs';
import { normalizeKey } from '../../api/key-path.ts';
import type { V2Event } from '../../api/wire.ts';
import type { GlobalArgs, KeysDeps } from '../global-options.ts';
import { formatOf } from '../global-options.ts';
import { processIo } from '../io.ts';
import type { OutputFormat } from '../printers.ts';
import { descendants, printEvent } from '../printers.ts';
import { runKeysCommand } from '../run-keys-command.ts';
import type { Consistency } from './get.ts';
import { CONSISTENCY } from './get.ts';

export interface LsOptions {
  readonly key: string;
  readonly recursive: boolean;
  /** Append "/" to directories. */
  readonly slash: boolean;
  readonly consistency: Consistency;
  readonly format: OutputFormat;
}

/** One key per line, sorted; a file lists itself, as with etcdctl ls. */
export function formatLs(event: V2Event, slash: boolean): string[] {
  const node = event.node;
  if (node === undefined) return [];
  const nodes = node.dir ? descendants(node) : [node];
  return nodes.map((child) => (slash && child.dir ? `${child.key}/` : (child.key ?? '')));
}

export async function runLs(options: LsOptions, deps: KeysDeps): Promise<void> {
  const { event } = await deps.client.get(options.key, {
    recursive: options.recursive,
    sorted: true,
    quorum: options.consistency === 'l',
  });
  printEvent(deps.io, options.format, event, (e) => formatLs(e, options.slash));
}

interface LsArgs extends GlobalArgs {
  /** Upper case: `--key` is the TLS client key option. */
  KEY: string;
  recursive: boolean;
  p: boolean;
  consistency: Consistency;
}

/** The directory ls lists when none is named: the root. */
export const LS_DEFAULT_KEY = '/';

/** ls's options as data, for yargs and for the quick path. */
export const LS_OPTIONS: Record<string, Options> = {
  recursive: { alias: 'r', type: 'boolean', default: false, describe: 'list everything below the directory' },
  p: { type: 'boolean', default: false, describe: 'append / to directories' },
  consistency: { choices: CONSISTENCY, default: 'l' as Consistency, describe: 'l: linearizable; s: local, possibly stale' },
};

export const lsCommand: CommandModule<GlobalArgs, LsArgs> = {
  command: 'ls [KEY]',
  describe: 'list the keys in a directory',
  builder: (yargs) =>
    (yargs as Argv<GlobalArgs>)
      .positional('KEY', { type: 'string', default: LS_DEFAULT_KEY, describe: 'the directory (default: the root)' })
      .options(LS_OPTIONS)
      .example('$0 ls -r -p /services', 'every key below /services, directories marked with /') as unknown as Argv<LsArgs>,
  handler: (argv) =>
    runKeysCommand(argv, processIo, (deps) =>
      runLs(
        { key: normalizeKey(argv.KEY), recursive: argv.recursive, slash: argv.p, consistency: argv.consistency, format: formatOf(argv) },
        deps,
      ),
      'a linearizable read',
    ),
};
