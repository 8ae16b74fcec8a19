import type { Argv, CommandModule, Options } from 'yargs';
import { normalizeKey } from '../../api/key-path.ts';
import { parseNonNegativeInteger } from '../../api/numbers.ts';
import { UsageError } from '../errors.ts';
import type { GlobalArgs, KeysDeps } from '../global-options.ts';
import { formatOf } from '../global-options.ts';
import { processIo } from '../io.ts';
import { parseKeyTtl } from '../key-ttl.ts';
import type { OutputFormat } from '../printers.ts';
import { printEvent, printValue } from '../printers.ts';
import { runKeysCommand } from '../run-keys-command.ts';

export interface PutOptions {
  readonly key: string;
  readonly value: string;
  readonly ttl?: number;
  readonly prevValue?: string;
  readonly prevIndex?: number;
  readonly prevExist?: boolean;
  readonly format: OutputFormat;
}

export async function runPut(options: PutOptions, deps: KeysDeps): Promise<void> {
  const { event } = await deps.client.set(options.key, options.value, {
    ...(options.ttl !== undefined ? { ttl: options.ttl } : {}),
    ...(options.prevValue !== undefined ? { prevValue: options.prevValue } : {}),
    ...(options.prevIndex !== undefined ? { prevIndex: options.prevIndex } : {}),
    ...(options.prevExist !== undefined ? { prevExist: options.prevExist } : {}),
  });
  printEvent(deps.io, options.format, event, printValue);
}

interface PutArgs extends GlobalArgs {
  /** Upper case: `--key` is the TLS client key option. */
  KEY: string;
  value?: string;
  ttl?: string;
  prevValue?: string;
  prevIndex?: string;
  prevExist?: 'true' | 'false';
}

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) throw new UsageError('give a VALUE, or pipe the value on standard input');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** put's options as data, for yargs and for the quick path. */
export const PUT_OPTIONS: Record<string, Options> = {
  ttl: { type: 'string', describe: 'seconds until the key expires, at least 1 (without it the key is permanent)' },
  'prev-value': { type: 'string', describe: 'write only if the current value is this (compare-and-swap)' },
  'prev-index': { type: 'string', describe: 'write only if the key was last modified at this index' },
  'prev-exist': { choices: ['true', 'false'], describe: 'true: only update an existing key; false: only create' },
};

export const putCommand: CommandModule<GlobalArgs, PutArgs> = {
  command: 'put <KEY> [value]',
  // etcdctl v2's name for it.
  aliases: ['set'],
  describe: 'set the value of a key (read from standard input when VALUE is left out)',
  builder: (yargs) =>
    (yargs as Argv<GlobalArgs>)
      .positional('KEY', { type: 'string', demandOption: true, describe: 'the key' })
      .positional('value', { type: 'string', describe: 'the value' })
      .options(PUT_OPTIONS)
      .example('$0 put /config/db postgres://db:5432', 'set a value')
      .example('$0 put /leases/a holder --ttl 30', 'a key that expires after 30 s')
      .example('$0 put /config/db new --prev-value old', 'compare-and-swap')
      .example('cat cert.pem | $0 put /certs/web', 'the value from standard input') as unknown as Argv<PutArgs>,
  handler: (argv) =>
    runKeysCommand(argv, processIo, async (deps) =>
      runPut(
        {
          key: normalizeKey(argv.KEY),
          value: argv.value ?? (await readStdin()),
          format: formatOf(argv),
          ...(argv.ttl !== undefined ? { ttl: parseKeyTtl(argv.ttl) } : {}),
          ...(argv.prevValue !== undefined ? { prevValue: argv.prevValue } : {}),
          ...(argv.prevIndex !== undefined ? { prevIndex: parseNonNegativeInteger('--prev-index', argv.prevIndex) } : {}),
          ...(argv.prevExist !== undefined ? { prevExist: argv.prevExist === 'true' } : {}),
        },
        deps,
      ),
    ),
};

/**
 * etcdctl v2's `mk` and `update`: put that only creates, or only updates, an existing key
 * (put --prev-exist false / true), so that an etcd user's scripts find what they type.
 */
function conditionalPut(name: 'mk' | 'update', prevExist: 'true' | 'false', describe: string): CommandModule<GlobalArgs, PutArgs> {
  const { 'prev-exist': _, ...options } = PUT_OPTIONS;
  return {
    command: `${name} <KEY> [value]`,
    describe,
    builder: (yargs) =>
      (yargs as Argv<GlobalArgs>)
        .positional('KEY', { type: 'string', demandOption: true, describe: 'the key' })
        .positional('value', { type: 'string', describe: 'the value (default: standard input)' })
        .options(options)
        .example(`$0 ${name} /config/db postgres://db:5432`, describe)
        .example(`$0 ${name} /leases/a holder --ttl 30`, 'the same, with a key that expires after 30 s') as unknown as Argv<PutArgs>,
    handler: (argv) => putCommand.handler({ ...argv, prevExist }),
  };
}

export const mkCommand = conditionalPut('mk', 'false', 'create a key that does not exist yet (put --prev-exist false; exit code 3 if it exists)');
export const updateCommand = conditionalPut('update', 'true', 'update a key that exists (put --prev-exist true; exit code 2 if it does not)');
