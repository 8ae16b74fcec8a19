import type { Argv, Options } from 'yargs';
import { parseDuration } from '../api/duration.ts';
import { parseEndpoints } from '../api/endpoints.ts';
import { readFileSync } from 'node:fs';
import type { ClientTls } from '../client/http-transport.ts';
import { HttpTransport } from '../client/http-transport.ts';
import { KeysClient } from '../client/keys-client.ts';
import { authorizationFor } from './credentials.ts';
import { UsageError } from './errors.ts';
import type { Io } from './io.ts';
import type { OutputFormat } from './printers.ts';
import { OUTPUT_FORMATS } from './printers.ts';

export const DEFAULT_ENDPOINT = 'http://127.0.0.1:2379';

/**
 * Longer than a member's own request timeout (5 s + 2 election timeouts: 7 s with the defaults),
 * so that a member's answer ("no leader", a timed-out proposal) arrives before kvctl gives up.
 */
export const DEFAULT_TIMEOUT = '15s';

/** The options every kvctl command takes. */
export interface GlobalArgs {
  readonly endpoints: string;
  /** Undefined when not given: each command has its own default (simple; table for member list). */
  readonly writeOut?: OutputFormat;
  readonly timeout: string;
  readonly debug: boolean;
  readonly cacert?: string;
  readonly cert?: string;
  readonly key?: string;
  readonly insecureSkipTlsVerify: boolean;
  /** NAME[:PASSWORD] for a cluster with auth enabled. */
  readonly user?: string;
}

/**
 * The global options as data: yargs takes them, and so does the quick path (quick-path.ts), which
 * parses the common commands without loading yargs. The endpoints default to etcdctl's
 * ETCDCTL_ENDPOINTS when KVCTL_ENDPOINTS is not set, so that an etcd user's environment works.
 */
export function globalOptions(env: NodeJS.ProcessEnv = process.env): Record<string, Options> {
  return {
    endpoints: {
      type: 'string',
      default: env.ETCDCTL_ENDPOINTS || DEFAULT_ENDPOINT,
      describe: 'comma-separated client URLs of the cluster (env KVCTL_ENDPOINTS, else ETCDCTL_ENDPOINTS)',
      global: true,
    },
    'write-out': {
      alias: 'w',
      choices: OUTPUT_FORMATS,
      describe: 'output format: simple (the default; table for member list, endpoint status, status), json, table (env KVCTL_WRITE_OUT)',
      global: true,
    },
    timeout: {
      type: 'string',
      default: DEFAULT_TIMEOUT,
      describe: 'timeout of one request to one endpoint, e.g. 500ms, 15s (env KVCTL_TIMEOUT)',
      global: true,
    },
    debug: { type: 'boolean', default: false, describe: 'print each HTTP request on stderr (env KVCTL_DEBUG)', global: true },
    cacert: { type: 'string', describe: 'for https:// endpoints: the CA that signs the servers\' certificates (env KVCTL_CACERT)', global: true },
    cert: { type: 'string', describe: 'a client certificate to present (env KVCTL_CERT)', global: true },
    key: { type: 'string', describe: 'the client certificate\'s private key (env KVCTL_KEY)', global: true },
    'insecure-skip-tls-verify': { type: 'boolean', default: false, describe: 'accept any server certificate: for testing only (env KVCTL_INSECURE_SKIP_TLS_VERIFY)', global: true },
    user: { type: 'string', describe: 'NAME[:PASSWORD] when auth is enabled; the password is asked for on the terminal when left out (env KVCTL_USER)', global: true },
  };
}

export function addGlobalOptions<T>(argv: Argv<T>): Argv<T & GlobalArgs> {
  const options = globalOptions();
  // Under their own heading, after each command's own options in --help.
  return argv.options(options).group([...Object.keys(options), 'help', 'version'], 'Global options:') as unknown as Argv<T & GlobalArgs>;
}

/** What a keys command needs from the outside world; tests pass fakes. */
export interface KeysDeps {
  readonly client: Pick<KeysClient, 'get' | 'set' | 'mkdir' | 'delete'>;
  readonly io: Io;
}

/**
 * The output format asked for with -w, or the command's own default. A format the command does
 * not print (most have no table) is refused before anything is sent, never silently ignored.
 */
export function formatOf(args: GlobalArgs, fallback: OutputFormat = 'simple', offered: readonly OutputFormat[] = ['simple', 'json']): OutputFormat {
  const format = args.writeOut ?? fallback;
  if (!offered.includes(format)) throw new UsageError(`-w ${format}: this command prints ${offered.join(' or ')}`);
  return format;
}

function readPem(flag: string, file: string | undefined): Buffer | undefined {
  if (file === undefined) return undefined;
  try {
    return readFileSync(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new UsageError(`--${flag} ${file}: cannot read it (${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (error as Error).message})`);
  }
}

/** The TLS options of the global flags (undefined when none is given). */
export function clientTlsFor(args: GlobalArgs): ClientTls | undefined {
  if ((args.cert === undefined) !== (args.key === undefined)) throw new UsageError('--cert and --key go together: give both');
  if (args.cacert === undefined && args.cert === undefined && !args.insecureSkipTlsVerify) return undefined;
  const ca = readPem('cacert', args.cacert);
  const cert = readPem('cert', args.cert);
  const key = readPem('key', args.key);
  return { ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}), verify: !args.insecureSkipTlsVerify };
}

/** Builds the transport for the global options; the caller closes it. */
export function transportFor(args: GlobalArgs, io: Io): HttpTransport {
  const tls = clientTlsFor(args);
  const authorization = authorizationFor(args.user);
  return new HttpTransport({
    endpoints: parseEndpoints(args.endpoints),
    timeoutMs: parseDuration(args.timeout),
    ...(args.debug ? { debug: (line: string) => io.err(`debug: ${line}`) } : {}),
    ...(tls !== undefined ? { tls } : {}),
    ...(authorization !== undefined ? { authorization } : {}),
  });
}

/** Builds the client for the global options; the caller closes the transport. */
export function connect(args: GlobalArgs, io: Io): { client: KeysClient; transport: HttpTransport } {
  const transport = transportFor(args, io);
  return { client: new KeysClient(transport), transport };
}
