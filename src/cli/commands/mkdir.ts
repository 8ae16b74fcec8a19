import type { Argv, CommandModule } from 'yargs';
import { normalizeKey } from '../../api/key-path.ts';
import type { GlobalArgs, KeysDeps } from '../global-options.ts';
import { formatOf } from '../global-options.ts';
import { processIo } from '../io.ts';
import { parseKeyTtl } from '../key-ttl.ts';
import type { OutputFormat } from '../printers.ts';
import { printEvent, printNothing } from '../printers.ts';
import { runKeysCommand } from '../run-keys-command.ts';

export interface MkdirOptions {
  readonly key: string;
  readonly ttl?: number;
  readonly format: OutputFormat;
}

export async function runMkdir(options: MkdirOptions, deps: KeysDeps): Promise<void> {
  const { event } = await deps.client.mkdir(options.key, options.ttl !== undefined ? { ttl: options.ttl } : {});
  printEvent(deps.io, options.format, event, printNothing);
}

interface MkdirArgs extends GlobalArgs {
  /** Upper case: `--key` is the TLS client key option. */
  KEY: string;
  ttl?: string;
}

export const mkdirCommand: CommandModule<GlobalArgs, MkdirArgs> = {
  command: 'mkdir <KEY>',
  describe: 'create a directory (fails with exit code 3 if the key exists)',
  builder: (yargs) =>
    (yargs as Argv<GlobalArgs>)
      .positional('KEY', { type: 'string', demandOption: true, describe: 'the directory' })
      .option('ttl', { type: 'string', describe: 'seconds until the directory and its contents expire' })
      .example('$0 mkdir /services/web', 'create a directory') as unknown as Argv<MkdirArgs>,
  handler: (argv) =>
    runKeysCommand(argv, processIo, (deps) =>
      runMkdir(
        {
          key: normalizeKey(argv.KEY),
          format: formatOf(argv),
          ...(argv.ttl !== undefined ? { ttl: parseKeyTtl(argv.ttl) } : {}),
        },
        deps,
      ),
    ),
};
