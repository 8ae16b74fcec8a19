import type { Argv, CommandModule } from 'yargs';
import { parseDuration } from '../../api/duration.ts';
import { normalizeKey } from '../../api/key-path.ts';
import type { KeysClient } from '../../client/keys-client.ts';
import { Mirror } from '../../client/mirror.ts';
import { UsageError } from '../errors.ts';
import type { GlobalArgs } from '../global-options.ts';
import { connect, formatOf } from '../global-options.ts';
import { processIo } from '../io.ts';
import type { OutputFormat } from '../printers.ts';
import type { SessionDeps } from '../run-keys-command.ts';
import { runSessionCommand } from '../run-keys-command.ts';
import { formatMirrorLag, formatMirrorSummary } from '../transfer-printers.ts';

export interface MirrorCommandOptions {
  readonly key: string;
  readonly toPrefix: string;
  readonly concurrency: number;
  /** How often the lag is printed on stderr. */
  readonly lagIntervalMs: number;
  readonly format: OutputFormat;
}

export interface MirrorDeps extends SessionDeps {
  /** The cluster copied from (`client` is the one copied into). */
  readonly source: Pick<KeysClient, 'get' | 'watch'>;
  readonly now: () => number;
}

/** Copies and follows the source until signalled; then prints where it stopped (and exits 0). */
export async function runMirror(options: MirrorCommandOptions, deps: MirrorDeps): Promise<void> {
  const { io } = deps;
  const mirror = new Mirror(deps.source, deps.client, {
    key: options.key,
    toPrefix: options.toPrefix,
    concurrency: options.concurrency,
    signal: deps.signal,
    now: deps.now,
    report: (line) => io.err(line),
    warn: (message) => io.err(`warning: ${message}`),
  });
  const lag = setInterval(() => io.err(formatMirrorLag(mirror.progress())), options.lagIntervalMs);
  try {
    const stopped = await mirror.run();
    if (options.format === 'json') io.out(JSON.stringify(stopped));
    io.err(formatMirrorSummary(stopped));
  } finally {
    clearInterval(lag);
  }
}

interface MirrorArgs extends GlobalArgs {
  from: string;
  /** Upper case: `--key` is the TLS client key option. */
  KEY: string;
  toPrefix?: string;
  concurrency: number;
  lagInterval: string;
  fromCacert?: string;
  fromCert?: string;
  fromKey?: string;
  fromInsecureSkipTlsVerify?: boolean;
}

/** The source's connection options: the global ones, with --from-* in place of the TLS flags they name. */
function sourceArgs(argv: MirrorArgs): GlobalArgs {
  const pick = <T>(own: T | undefined, global: T | undefined) => own ?? global;
  const cacert = pick(argv.fromCacert, argv.cacert);
  const cert = pick(argv.fromCert, argv.cert);
  const key = pick(argv.fromKey, argv.key);
  return {
    endpoints: argv.from,
    timeout: argv.timeout,
    debug: argv.debug,
    insecureSkipTlsVerify: pick(argv.fromInsecureSkipTlsVerify, argv.insecureSkipTlsVerify) ?? false,
    ...(cacert !== undefined ? { cacert } : {}),
    ...(cert !== undefined ? { cert } : {}),
    ...(key !== undefined ? { key } : {}),
  };
}

export const mirrorCommand: CommandModule<GlobalArgs, MirrorArgs> = {
  command: 'mirror [KEY]',
  describe: 'copy a tree from another etcd v2 endpoint (etcd, kvd) into the cluster, then follow its changes until stopped',
  builder: (yargs) =>
    (yargs as Argv<GlobalArgs>)
      .positional('KEY', { type: 'string', default: '/', describe: 'the source key or directory to mirror (default: everything but hidden keys)' })
      .option('from', { type: 'string', demandOption: true, describe: 'comma-separated client URLs of the source cluster' })
      .option('to-prefix', { type: 'string', describe: 'where KEY lands in this cluster (default: KEY itself)' })
      .option('concurrency', { type: 'number', default: 64, describe: 'writes in flight at once, and polls of the source (changes to related keys stay in order)' })
      .option('lag-interval', { type: 'string', default: '10s', describe: 'how often to print the lag (source index, applied index) on stderr' })
      .option('from-cacert', { type: 'string', describe: 'for an https:// source: its CA (default: --cacert)' })
      .option('from-cert', { type: 'string', describe: 'a client certificate for the source (default: --cert)' })
      .option('from-key', { type: 'string', describe: 'the private key of --from-cert (default: --key)' })
      .option('from-insecure-skip-tls-verify', { type: 'boolean', describe: 'accept any certificate from the source: for testing only (default: --insecure-skip-tls-verify)' })
      .example('$0 mirror --from http://etcd1:2379,http://etcd2:2379 --endpoints http://kvd1:2379', 'copy everything from etcd into kvd and keep it in step until Ctrl-C')
      .example('$0 mirror /app --to-prefix /imported/app --from https://etcd:2379 --from-cacert etcd-ca.pem', 'one directory, to another place, from etcd over TLS') as unknown as Argv<MirrorArgs>,
  handler: (argv) => {
    if (!(Number.isInteger(argv.concurrency) && argv.concurrency >= 1)) throw new UsageError(`--concurrency must be a whole number, at least 1, not ${argv.concurrency}`);
    const key = normalizeKey(argv.KEY);
    const options: MirrorCommandOptions = {
      key,
      toPrefix: argv.toPrefix !== undefined ? normalizeKey(argv.toPrefix) : key,
      concurrency: argv.concurrency,
      lagIntervalMs: parseDuration(argv.lagInterval),
      format: formatOf(argv),
    };
    if (options.lagIntervalMs <= 0) throw new UsageError('--lag-interval must be longer than 0');
    const source = connect(sourceArgs(argv), processIo);
    return runSessionCommand(argv, processIo, (deps) => runMirror(options, { ...deps, source: source.client, now: Date.now })).finally(() => source.transport.close());
  },
};
