import type { LogFormat, LogLevel } from './logger.ts';

/** A flag value that cannot work; `kvd serve` exits with this message. */
export class ConfigError extends Error {}

/** The flags of `kvd serve`, named as etcd's (each also from KVD_<NAME> in the environment). */
export interface ServeFlags {
  readonly name: string;
  readonly dataDir?: string;
  readonly listenClientUrls: string;
  readonly advertiseClientUrls?: string;
  readonly listenPeerUrls: string;
  readonly initialAdvertisePeerUrls?: string;
  readonly initialCluster?: string;
  readonly initialClusterState: string;
  readonly initialClusterToken: string;
  readonly snapshotCount: number;
  readonly snapshotCatchupEntries: number;
  readonly heartbeatInterval: number;
  readonly electionTimeout: number;
  readonly logLevel: string;
  readonly logFormat: string;
  readonly maxRequestBytes: number;
}

export interface ServeConfig {
  readonly name: string;
  readonly dataDir: string;
  readonly listenClientUrls: readonly URL[];
  readonly advertiseClientUrls: readonly string[];
  readonly listenPeerUrls: readonly URL[];
  readonly advertisePeerUrls: readonly string[];
  /** Member name -> its peer URLs. */
  readonly initialCluster: ReadonlyMap<string, readonly string[]>;
  readonly initialClusterState: 'new' | 'existing';
  readonly initialClusterToken: string;
  readonly snapshotCount: number;
  /** Entries kept after a snapshot for followers that are a little behind. */
  readonly snapshotCatchupEntries: number;
  readonly heartbeatIntervalMs: number;
  readonly electionTimeoutMs: number;
  readonly logLevel: LogLevel;
  readonly logFormat: LogFormat;
  readonly maxRequestBytes: number;
}

function urls(flag: string, value: string): URL[] {
  const out: URL[] = [];
  for (const raw of value.split(',').map((s) => s.trim()).filter((s) => s !== '')) {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new ConfigError(`--${flag}: "${raw}" is not a URL (example: http://127.0.0.1:2379)`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConfigError(`--${flag}: "${raw}" must be http:// or https://`);
    if (url.port === '') throw new ConfigError(`--${flag}: "${raw}" needs a port`);
    if (url.pathname !== '/' || url.search !== '') throw new ConfigError(`--${flag}: "${raw}" must have no path`);
    out.push(url);
  }
  if (out.length === 0) throw new ConfigError(`--${flag}: give at least one URL`);
  return out;
}

const origin = (url: URL) => url.origin;

function parseInitialCluster(value: string): Map<string, string[]> {
  const cluster = new Map<string, string[]>();
  for (const part of value.split(',').map((s) => s.trim()).filter((s) => s !== '')) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new ConfigError(`--initial-cluster: "${part}" must be name=peer-url`);
    const name = part.slice(0, eq);
    const url = urls('initial-cluster', part.slice(eq + 1))[0]!;
    cluster.set(name, [...(cluster.get(name) ?? []), url.origin]);
  }
  return cluster;
}

function positiveInteger(flag: string, value: number): number {
  if (!Number.isInteger(value) || value <= 0) throw new ConfigError(`--${flag}: must be a whole number above 0, not ${value}`);
  return value;
}

/** Checks the flags and fills etcd's defaults. Throws ConfigError naming the flag. */
export function resolveConfig(flags: ServeFlags): ServeConfig {
  if (!/^[A-Za-z0-9._-]+$/.test(flags.name)) throw new ConfigError(`--name: "${flags.name}" may use only letters, digits, '.', '_' and '-'`);
  const listenClientUrls = urls('listen-client-urls', flags.listenClientUrls);
  const advertiseClientUrls = flags.advertiseClientUrls !== undefined ? urls('advertise-client-urls', flags.advertiseClientUrls).map(origin) : listenClientUrls.map(origin);
  const listenPeerUrls = urls('listen-peer-urls', flags.listenPeerUrls);
  const advertisePeerUrls = flags.initialAdvertisePeerUrls !== undefined ? urls('initial-advertise-peer-urls', flags.initialAdvertisePeerUrls).map(origin) : listenPeerUrls.map(origin);
  const initialCluster = parseInitialCluster(flags.initialCluster ?? `${flags.name}=${advertisePeerUrls.join(`,${flags.name}=`)}`);
  const mine = initialCluster.get(flags.name);
  if (mine === undefined) throw new ConfigError(`--initial-cluster: has no member named "${flags.name}" (this member's --name)`);
  if ([...mine].sort().join(',') !== [...advertisePeerUrls].sort().join(',')) {
    throw new ConfigError(`--initial-cluster: "${flags.name}" has peer URLs ${mine.join(',')}, but --initial-advertise-peer-urls says ${advertisePeerUrls.join(',')}`);
  }
  if (flags.initialClusterState !== 'new' && flags.initialClusterState !== 'existing') {
    throw new ConfigError(`--initial-cluster-state: must be "new" or "existing", not "${flags.initialClusterState}"`);
  }
  const heartbeatIntervalMs = positiveInteger('heartbeat-interval', flags.heartbeatInterval);
  const electionTimeoutMs = positiveInteger('election-timeout', flags.electionTimeout);
  if (electionTimeoutMs < 5 * heartbeatIntervalMs) throw new ConfigError(`--election-timeout (${electionTimeoutMs} ms) must be at least 5 times --heartbeat-interval (${heartbeatIntervalMs} ms)`);
  const levels = ['debug', 'info', 'warn', 'error'];
  if (!levels.includes(flags.logLevel)) throw new ConfigError(`--log-level: must be one of ${levels.join(', ')}`);
  if (flags.logFormat !== 'text' && flags.logFormat !== 'json') throw new ConfigError('--log-format: must be text or json');
  return {
    name: flags.name,
    dataDir: flags.dataDir ?? `${flags.name}.kvd`,
    listenClientUrls,
    advertiseClientUrls,
    listenPeerUrls,
    advertisePeerUrls,
    initialCluster,
    initialClusterState: flags.initialClusterState,
    initialClusterToken: flags.initialClusterToken,
    snapshotCount: positiveInteger('snapshot-count', flags.snapshotCount),
    snapshotCatchupEntries: positiveInteger('snapshot-catchup-entries', flags.snapshotCatchupEntries),
    heartbeatIntervalMs,
    electionTimeoutMs,
    logLevel: flags.logLevel as LogLevel,
    logFormat: flags.logFormat,
    maxRequestBytes: positiveInteger('max-request-bytes', flags.maxRequestBytes),
  };
}

