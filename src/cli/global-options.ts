import type { Argv } from 'yargs';
import { parseDuration } from '../api/duration.ts';
import { parseEndpoints } from '../api/endpoints.ts';
import { HttpTransport } from '../client/http-transport.ts';
import { KeysClient } from '../client/keys-client.ts';
import type { Io } from './io.ts';
import type { OutputFormat } from './printers.ts';
import { OUTPUT_FORMATS } from './printers.ts';

export const DEFAULT_ENDPOINT = 'http://127.0.0.1:2379';

/** The options every kvctl command takes. */
export interface GlobalArgs {
  readonly endpoints: string;
  /** Undefined when not given: each command has its own default (simple; table for member list). */
  readonly writeOut?: OutputFormat;
  readonly timeout: string;
  readonly debug: boolean;
}

export function addGlobalOptions<T>(argv: Argv<T>): Argv<T & GlobalArgs> {
  return argv
    .option('endpoints', {
      type: 'string',
      default: DEFAULT_ENDPOINT,
      describe: 'comma-separated client URLs of the cluster (env KVCTL_ENDPOINTS)',
      global: true,
    })
    .option('write-out', {
      alias: 'w',
      choices: OUTPUT_FORMATS,
      describe: 'output format: simple (the default; table for member list, endpoint status, status), json, table (env KVCTL_WRITE_OUT)',
      global: true,
    })
    .option('timeout', {
      type: 'string',
      default: '5s',
      describe: 'timeout of one request to one endpoint, e.g. 500ms, 5s (env KVCTL_TIMEOUT)',
      global: true,
    })
    .option('debug', {
      type: 'boolean',
      default: false,
      describe: 'print each HTTP request on stderr (env KVCTL_DEBUG)',
      global: true,
    }) as unknown as Argv<T & GlobalArgs>;
}

/** What a keys command needs from the outside world; tests pass fakes. */
export interface KeysDeps {
  readonly client: Pick<KeysClient, 'get' | 'set' | 'mkdir' | 'delete'>;
  readonly io: Io;
}

export function formatOf(args: GlobalArgs, fallback: OutputFormat = 'simple'): OutputFormat {
  return args.writeOut ?? fallback;
}

/** Builds the transport for the global options; the caller closes it. */
export function transportFor(args: GlobalArgs, io: Io): HttpTransport {
  return new HttpTransport({
    endpoints: parseEndpoints(args.endpoints),
    timeoutMs: parseDuration(args.timeout),
    ...(args.debug ? { debug: (line: string) => io.err(`debug: ${line}`) } : {}),
  });
}

/** Builds the client for the global options; the caller closes the transport. */
export function connect(args: GlobalArgs, io: Io): { client: KeysClient; transport: HttpTransport } {
  const transport = transportFor(args, io);
  return { client: new KeysClient(transport), transport };
}
