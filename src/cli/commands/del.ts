import type { Argv, CommandModule } from 'yargs';
import { normalizeKey } from '../../api/key-path.ts';
import { parseNonNegativeInteger } from '../../api/numbers.ts';
import type { GlobalArgs, KeysDeps } from '../global-options.ts';
import { formatOf } from '../global-options.ts';
import { processIo } from '../io.ts';
import type { OutputFormat } from '../printers.ts';
import { printEvent, printNothing } from '../printers.ts';
import { runKeysCommand } from '../run-keys-command.ts';

export interface DelOptions {
  readonly key: string;
  readonly recursive: boolean;
  readonly dir: boolean;
  readonly prevValue?: string;
  readonly prevIndex?: number;
  readonly format: OutputFormat;
}

export async function runDel(options: DelOptions, deps: KeysDeps): Promise<void> {
  const { event } = await deps.client.delete(options.key, {
    recursive: options.recursive,
    dir: options.dir,
    ...(options.prevValue !== undefined ? { prevValue: options.prevValue } : {}),
    ...(options.prevIndex !== undefined ? { prevIndex: options.prevIndex } : {}),
  });
  printEvent(deps.io, options.format, event, printNothing);
}

interface DelArgs extends GlobalArgs {
  /** Upper case: `--key` is the TLS client key option. */
  KEY: string;
  recursive: boolean;
  dir: boolean;
  prevValue?: string;
  prevIndex?: string;
}

export const delCommand: CommandModule<GlobalArgs, DelArgs> = {
  command: 'del <KEY>',
  aliases: ['rm'],
  describe: 'delete a key, an empty directory (--dir) or a whole tree (-r)',
  builder: (yargs) =>
    (yargs as Argv<GlobalArgs>)
      .positional('KEY', { type: 'string', demandOption: true, describe: 'the key' })
      .option('recursive', { alias: 'r', type: 'boolean', default: false, describe: 'delete a directory and everything below it' })
      .option('dir', { type: 'boolean', default: false, describe: 'delete an empty directory' })
      .option('prev-value', { type: 'string', describe: 'delete only if the current value is this (compare-and-delete)' })
      .option('prev-index', { type: 'string', describe: 'delete only if the key was last modified at this index' })
      .example('$0 del /config/db', 'delete a key')
      .example('$0 del -r /config', 'delete a directory and its contents') as unknown as Argv<DelArgs>,
  handler: (argv) =>
    runKeysCommand(argv, processIo, (deps) =>
      runDel(
        {
          key: normalizeKey(argv.KEY),
          recursive: argv.recursive,
          dir: argv.dir,
          format: formatOf(argv),
          ...(argv.prevValue !== undefined ? { prevValue: argv.prevValue } : {}),
          ...(argv.prevIndex !== undefined ? { prevIndex: parseNonNegativeInteger('--prev-index', argv.prevIndex) } : {}),
        },
        deps,
      ),
    ),
};
