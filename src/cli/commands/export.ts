import type { Argv, CommandModule } from 'yargs';
import { normalizeKey } from '../../api/key-path.ts';
import { exportTree } from '../../client/export.ts';
import type { KeysClient } from '../../client/keys-client.ts';
import { UsageError } from '../errors.ts';
import type { GlobalArgs } from '../global-options.ts';
import type { Io } from '../io.ts';
import { processIo } from '../io.ts';
import { runKeysCommand } from '../run-keys-command.ts';
import { formatExportDocument } from '../transfer-printers.ts';
import { writeAtomically } from '../write-atomically.ts';

export interface ExportCommandOptions {
  readonly key: string;
  readonly hidden: readonly string[];
  /** The file to write (atomically); standard output when absent. */
  readonly output?: string;
}

export interface ExportDeps {
  readonly client: Pick<KeysClient, 'get'>;
  readonly io: Io;
  readonly now: () => Date;
}

/** Writes the key's tree as an export document (docs/export-format.md). */
export async function runExport(options: ExportCommandOptions, deps: ExportDeps): Promise<void> {
  const doc = await exportTree(deps.client, { key: options.key, hidden: options.hidden, now: deps.now(), warn: (message) => deps.io.err(`warning: ${message}`) });
  const text = formatExportDocument(doc);
  if (options.output === undefined) {
    deps.io.out(text);
    return;
  }
  await writeAtomically(options.output, `${text}\n`);
  deps.io.err(`export: wrote ${doc.nodes.length} nodes of ${doc.key} at index ${doc.index} to ${options.output}`);
}

interface ExportArgs extends GlobalArgs {
  /** Upper case: `--key` is the TLS client key option. */
  KEY: string;
  hidden?: string[];
  output?: string;
}

export const exportCommand: CommandModule<GlobalArgs, ExportArgs> = {
  command: 'export [KEY]',
  describe: 'write a tree (values, directories, TTLs) as one JSON document, read at one index',
  builder: (yargs) =>
    (yargs as Argv<GlobalArgs>)
      .positional('KEY', { type: 'string', default: '/', describe: 'the key or directory to export (default: everything)' })
      .option('hidden', { type: 'string', array: true, describe: 'also export this hidden key or directory (a name starting with "_"): the API cannot list hidden keys, so name each; repeatable' })
      .option('output', { alias: 'o', type: 'string', describe: 'write to this file (whole or not at all) instead of standard output' })
      .example('$0 export -o backup.json', 'everything (but hidden keys) to backup.json')
      .example('$0 export /config --hidden /config/_secrets > config.json', 'a subtree, with one hidden directory')
      .example('$0 export --endpoints http://etcd:2379 -o etcd.json', 'the same from an etcd v2 endpoint') as unknown as Argv<ExportArgs>,
  handler: (argv) => {
    const hidden = (argv.hidden ?? []).map((name) => normalizeKey(String(name)));
    for (const name of hidden) if (!name.split('/').some((segment) => segment.startsWith('_'))) throw new UsageError(`--hidden ${name} is not hidden (no name in it starts with "_"): it is exported anyway`);
    return runKeysCommand(argv, processIo, (deps) =>
      runExport({ key: normalizeKey(argv.KEY), hidden, ...(argv.output !== undefined ? { output: argv.output } : {}) }, { client: deps.client, io: deps.io, now: () => new Date() }),
    );
  },
};
