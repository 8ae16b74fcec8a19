import type { Argv, CommandModule, Options } from 'yargs';
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

/** del's options as data, for yargs and for the quick path. */
export const DEL_OPTIONS: Record<string, Options> = {
  recursive: { alias: 'r', type: 'boolean', default: false, describe: 'delete a directory and everything below it' },
  dir: { type: 'boolean', default: false, describe: 'delete an empty directory' },
  'prev-value': { type: 'string', describe: 'delete only if the current value is this (compare-and-delete)' },
  'prev-index': { type: 'string', describe: 'delete only if the key was last modified at this index' },
};

export const delCommand: CommandModule<GlobalArgs, DelArgs> = {
  command: 'del <KEY>',
  aliases: ['rm'],
  describe: 'delete a key, an empty directory (--dir) or a whole tree (-r)',
  builder: (yargs) =>
    (yargs as Argv<GlobalArgs>)
      .positional('KEY', { type: 'string', demandOption: true, describe: 'the key' })
      .options(DEL_OPTIONS)
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

/** etcdctl v2's `rmdir`: delete an empty directory (del --dir). */
export const rmdirCommand: CommandModule<GlobalArgs, DelArgs> = {
  command: 'rmdir <KEY>',
  describe: 'delete an empty directory (del --dir)',
  builder: (yargs) =>
    (yargs as Argv<GlobalArgs>)
      .positional('KEY', { type: 'string', demandOption: true, describe: 'the directory' })
      .example('$0 rmdir /services/old', 'delete an empty directory') as unknown as Argv<DelArgs>,
  handler: (argv) => delCommand.handler({ ...argv, dir: true, recursive: false }),
};
