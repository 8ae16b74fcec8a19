import type { Argv, CommandModule } from 'yargs';
import type { TxnRequestBody } from '../../api/txn-wire.ts';
import type { V2Event } from '../../api/wire.ts';
import { parseCondition, parseOperation, parseTxnScript } from '../../client/txn-script.ts';
import { UsageError } from '../errors.ts';
import { ExitCode } from '../exit-code.ts';
import type { KeysClient } from '../../client/keys-client.ts';
import type { GlobalArgs } from '../global-options.ts';
import { connect, formatOf } from '../global-options.ts';
import type { Io } from '../io.ts';
import { processIo } from '../io.ts';
import type { OutputFormat } from '../printers.ts';

export interface TxnOptions {
  readonly body: TxnRequestBody;
  readonly format: OutputFormat;
}

export interface TxnDeps {
  readonly client: Pick<KeysClient, 'txn'>;
  readonly io: Io;
}

/**
 * Sends one transaction and prints its answer: with -w json the API's body, otherwise SUCCESS or
 * FAILURE and a line per operation. Returns PRECONDITION_FAILED when the conditions did not hold.
 */
export async function runTxn(options: TxnOptions, deps: TxnDeps): Promise<ExitCode> {
  const { succeeded, responses } = await deps.client.txn(options.body);
  if (options.format === 'json') {
    deps.io.out(JSON.stringify({ succeeded, responses }));
  } else {
    deps.io.out(succeeded ? 'SUCCESS' : 'FAILURE');
    for (const event of responses) for (const line of describeResponse(event)) deps.io.out(line);
  }
  return succeeded ? ExitCode.OK : ExitCode.PRECONDITION_FAILED;
}

/** A get prints the value (a directory: its children's keys); a write prints its action and key. */
function describeResponse(event: V2Event): string[] {
  const node = event.node ?? {};
  if (event.action !== 'get') return [`${event.action} ${node.key ?? '/'}`];
  if (!node.dir) return [node.value ?? ''];
  return (node.nodes ?? []).map((child) => child.key ?? '');
}

interface TxnArgs extends GlobalArgs {
  if?: string[];
  then?: string[];
  else?: string[];
}

/** The body from the flags, or (with none) from standard input: a JSON body or a script. */
async function bodyOf(argv: TxnArgs): Promise<TxnRequestBody> {
  const conditions = argv.if ?? [];
  const success = argv.then ?? [];
  const failure = argv.else ?? [];
  if (conditions.length + success.length + failure.length > 0) {
    return { compare: conditions.map(parseCondition), success: success.map(parseOperation), failure: failure.map(parseOperation) };
  }
  if (process.stdin.isTTY) throw new UsageError('give --if/--then/--else, or pipe a transaction on standard input (see kvctl txn --help)');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  if (!text.trimStart().startsWith('{')) return parseTxnScript(text);
  try {
    return JSON.parse(text) as TxnRequestBody;
  } catch (error) {
    throw new UsageError(`standard input: not a JSON transaction: ${(error as Error).message}`);
  }
}

const asList = (value: unknown): string[] | undefined => (value === undefined ? undefined : ([] as unknown[]).concat(value).map(String));

export const txnCommand: CommandModule<GlobalArgs, TxnArgs> = {
  command: 'txn',
  describe: 'change several keys at once or not at all, if conditions hold (kvd\'s POST /v2/txn)',
  builder: (yargs) =>
    (yargs as Argv<GlobalArgs>)
      .option('if', { type: 'string', array: true, coerce: asList, describe: 'a condition: KEY == VALUE, index(KEY) == N, exists(KEY), missing(KEY) (repeatable; all must hold)' })
      .option('then', { type: 'string', array: true, coerce: asList, describe: 'an operation when they hold: put KEY VALUE [--ttl N], post DIR VALUE, del KEY [--recursive], get KEY (repeatable)' })
      .option('else', { type: 'string', array: true, coerce: asList, describe: 'an operation when they do not (repeatable)' })
      .example('$0 txn --if \'/a == "x"\' --then \'put /a y\' --then \'del /b\' --else \'get /a\'', 'exit 0 if /a was x (and is now y, /b gone), 3 if not')
      .example('$0 txn --if \'index(/acct/1) == 7\' --if \'index(/acct/2) == 9\' --then \'put /acct/1 90\' --then \'put /acct/2 110\'', 'a transfer that applies only if neither balance changed since it was read')
      .example('printf \'missing(/lock)\\n\\nput /lock me --ttl 10\\n\\nget /lock\\n\' | $0 txn', 'etcdctl v3\'s form on standard input: conditions, blank line, then, blank line, else')
      .example('$0 txn -w json < body.json', 'the JSON body POST /v2/txn takes; prints its JSON answer') as unknown as Argv<TxnArgs>,
  handler: async (argv) => {
    const body = await bodyOf(argv);
    const { client, transport } = connect(argv, processIo);
    try {
      process.exitCode = await runTxn({ body, format: formatOf(argv) }, { client, io: processIo });
    } finally {
      transport.close();
    }
  },
};
