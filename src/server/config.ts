import path from 'node:path';
import { defaultMaxClientConnections, processOpenFileLimit } from './connection-cap.ts';
import type { LogFormat, LogLevel } from './logger.ts';
import type { TlsFiles } from './tls.ts';

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
  /** Client connections open at once (default: from the descriptor limit). */
  readonly maxClientConnections?: number;
  /** Operations a transaction (POST /v2/txn) may hold, compares and both branches together; default 128. */
  readonly maxTxnOps?: number;
  readonly certFile?: string;
  readonly keyFile?: string;
  readonly trustedCaFile?: string;
  readonly clientCertAuth?: boolean;
  readonly peerCertFile?: string;
  readonly peerKeyFile?: string;
  readonly peerTrustedCaFile?: string;
  readonly peerClientCertAuth?: boolean;
  /** etcd's --auto-tls / --peer-auto-tls: https without certificate files uses self-signed ones made at start. */
  readonly autoTls?: boolean;
  readonly peerAutoTls?: boolean;
  /** Only a peer certificate whose Subject CN is exactly this may connect (etcd's --peer-cert-allowed-cn). */
  readonly peerCertAllowedCn?: string;
  /** Only a peer certificate valid for this host name or IP may connect (etcd's --peer-cert-allowed-hostname). */
  readonly peerCertAllowedHostname?: string;
  /** off: a member; on: a proxy that forwards to the members; readonly: a proxy that refuses writes. */
  readonly proxy?: string;
  /** For a proxy: client URLs of members to learn the cluster from (instead of --initial-cluster). */
  readonly endpoints?: string;
  readonly proxyRefreshInterval?: number;
}

/** etcd v3's default --max-txn-ops. */
export const DEFAULT_MAX_TXN_OPS = 128;

export type ProxyMode = 'on' | 'readonly';

/** What a proxy member needs: where to learn the members from, and how often. */
export interface ProxyConfig {
  readonly mode: ProxyMode;
  /** Client URLs to ask for /v2/members. */
  readonly clientSeeds: readonly string[];
  /** Peer URLs (from --initial-cluster) to ask for /members. */
  readonly peerSeeds: readonly string[];
  readonly refreshIntervalMs: number;
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
  /** Client connections open at once, across the client URLs; more are closed as they come. */
  readonly maxClientConnections: number;
  readonly maxTxnOps: number;
  /** TLS of the client URLs: certificate files, and whether clients must present a certificate. */
  readonly clientTls?: TlsFiles;
  readonly peerTls?: TlsFiles;
  /** Set when this process is a proxy, not a member. */
  readonly proxy?: ProxyConfig;
  /** Settings that work but leave a door open; `kvd serve` logs each once at start. */
  readonly warnings: readonly string[];
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

export function parseInitialCluster(value: string): Map<string, string[]> {
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

function optionalTls<K extends 'clientTls' | 'peerTls'>(name: K, files: TlsFiles | undefined): Partial<Record<K, TlsFiles>> {
  return files === undefined ? {} : ({ [name]: files } as Record<K, TlsFiles>);
}

function positiveInteger(flag: string, value: number): number {
  if (!Number.isInteger(value) || value <= 0) throw new ConfigError(`--${flag}: must be a whole number above 0, not ${value}`);
  return value;
}

/** The TLS files of one side; undefined when none are given. */
function tlsFiles(prefix: '' | 'peer-', cert: string | undefined, key: string | undefined, ca: string | undefined, auth: boolean | undefined, listen: readonly URL[], listenFlag: string, selfSignedDir?: string): TlsFiles | undefined {
  const https = listen.find((u) => u.protocol === 'https:');
  // As etcd's auto TLS: only where no certificate is given; it authenticates no one, so no client certificates.
  if (cert === undefined && key === undefined && https !== undefined && selfSignedDir !== undefined && auth !== true && ca === undefined) {
    return { certFile: path.join(selfSignedDir, 'cert.pem'), keyFile: path.join(selfSignedDir, 'key.pem'), clientCertAuth: false, selfSignedFor: [...new Set(listen.map((u) => u.hostname.replace(/^\[|\]$/g, '')))] };
  }
  if (cert === undefined && key === undefined) {
    if (https !== undefined) throw new ConfigError(`--${listenFlag}: ${https.origin} is https: give --${prefix}cert-file and --${prefix}key-file`);
    if (auth === true || ca !== undefined) throw new ConfigError(`--${prefix}client-cert-auth and --${prefix}trusted-ca-file need TLS: give --${prefix}cert-file and --${prefix}key-file and an https:// --${listenFlag}`);
    return undefined;
  }
  if (cert === undefined || key === undefined) throw new ConfigError(`--${prefix}cert-file and --${prefix}key-file go together: give both`);
  return { certFile: cert, keyFile: key, ...(ca !== undefined ? { trustedCaFile: ca } : {}), clientCertAuth: auth === true };
}

/**
 * Adds --peer-cert-allowed-cn or --peer-cert-allowed-hostname to the peer TLS files. They only
 * mean something when peers must show a certificate, so without one they are refused rather
 * than silently ignored.
 */
function withAllowedPeer(flags: ServeFlags, files: TlsFiles | undefined, listensForPeers: boolean): TlsFiles | undefined {
  const cn = flags.peerCertAllowedCn === '' ? undefined : flags.peerCertAllowedCn;
  const hostname = flags.peerCertAllowedHostname === '' ? undefined : flags.peerCertAllowedHostname;
  if (cn === undefined && hostname === undefined) return files;
  const flag = cn !== undefined ? 'peer-cert-allowed-cn' : 'peer-cert-allowed-hostname';
  if (cn !== undefined && hostname !== undefined) throw new ConfigError(`--peer-cert-allowed-cn and --peer-cert-allowed-hostname are mutually exclusive (cn="${cn}", hostname="${hostname}"): give one`);
  if (files === undefined) throw new ConfigError(`--${flag} needs peer TLS: give --peer-cert-file, --peer-key-file, --peer-trusted-ca-file and --peer-client-cert-auth with https:// --listen-peer-urls`);
  if (listensForPeers && !files.clientCertAuth) throw new ConfigError(`--${flag} needs --peer-client-cert-auth: without it peers show no certificate to check`);
  return { ...files, ...(cn !== undefined ? { allowedCn: cn } : { allowedHostname: hostname! }) };
}

/** Settings that start but leave the cluster open: today, client certificates required while the peer port is plain HTTP. */
function openDoors(clientTls: TlsFiles | undefined, listenPeerUrls: readonly URL[]): string[] {
  const plainPeers = listenPeerUrls.filter((u) => u.protocol === 'http:').map(origin);
  if (clientTls?.clientCertAuth !== true || plainPeers.length === 0) return [];
  return [`clients must show a certificate (--client-cert-auth) but the peer URLs ${plainPeers.join(',')} are plain HTTP: anyone who reaches them can write as a member; use https:// --listen-peer-urls with --peer-client-cert-auth, or firewall them (docs/security.md)`];
}

function proxyConfig(flags: ServeFlags, initialCluster: ReadonlyMap<string, readonly string[]>): ProxyConfig | undefined {
  const mode = flags.proxy ?? 'off';
  if (mode === 'off') return undefined;
  if (mode !== 'on' && mode !== 'readonly') throw new ConfigError(`--proxy: must be off, on or readonly, not "${mode}"`);
  const clientSeeds = flags.endpoints === undefined ? [] : urls('endpoints', flags.endpoints).map(origin);
  const peerSeeds = flags.initialCluster === undefined ? [] : [...initialCluster].filter(([name]) => name !== flags.name).flatMap(([, peerURLs]) => peerURLs);
  if (clientSeeds.length === 0 && peerSeeds.length === 0) throw new ConfigError('--proxy: give the members to forward to, with --endpoints (client URLs) or --initial-cluster (peer URLs)');
  return { mode, clientSeeds, peerSeeds, refreshIntervalMs: positiveInteger('proxy-refresh-interval', flags.proxyRefreshInterval ?? 30_000) };
}

/** Checks the flags and fills etcd's defaults. Throws ConfigError naming the flag. */
export function resolveConfig(flags: ServeFlags): ServeConfig {
  if (!/^[A-Za-z0-9._-]+$/.test(flags.name)) throw new ConfigError(`--name: "${flags.name}" may use only letters, digits, '.', '_' and '-'`);
  const listenClientUrls = urls('listen-client-urls', flags.listenClientUrls);
  const advertiseClientUrls = flags.advertiseClientUrls !== undefined ? urls('advertise-client-urls', flags.advertiseClientUrls).map(origin) : listenClientUrls.map(origin);
  const listenPeerUrls = urls('listen-peer-urls', flags.listenPeerUrls);
  const advertisePeerUrls = flags.initialAdvertisePeerUrls !== undefined ? urls('initial-advertise-peer-urls', flags.initialAdvertisePeerUrls).map(origin) : listenPeerUrls.map(origin);
  const initialCluster = parseInitialCluster(flags.initialCluster ?? `${flags.name}=${advertisePeerUrls.join(`,${flags.name}=`)}`);
  const proxy = proxyConfig(flags, initialCluster);
  const mine = initialCluster.get(flags.name);
  if (mine === undefined && proxy === undefined) throw new ConfigError(`--initial-cluster: has no member named "${flags.name}" (this member's --name)`);
  if (mine !== undefined && [...mine].sort().join(',') !== [...advertisePeerUrls].sort().join(',')) {
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
  const dataDir = flags.dataDir ?? `${flags.name}.kvd`;
  // Beside the data dir, which holds only what the storage writes (etcd keeps them in <data-dir>/fixtures).
  const selfSigned = `${path.resolve(dataDir)}.auto-tls`;
  const clientTls = tlsFiles('', flags.certFile, flags.keyFile, flags.trustedCaFile, flags.clientCertAuth, listenClientUrls, 'listen-client-urls', flags.autoTls === true ? path.join(selfSigned, 'client') : undefined);
  // A proxy listens on no peer URL; its peer certificate is for asking the members' peer URLs.
  const peerListen = proxy === undefined ? listenPeerUrls : [];
  const peerTls = withAllowedPeer(flags, tlsFiles('peer-', flags.peerCertFile, flags.peerKeyFile, flags.peerTrustedCaFile, flags.peerClientCertAuth, peerListen, 'listen-peer-urls', flags.peerAutoTls === true ? path.join(selfSigned, 'peer') : undefined), proxy === undefined);
  return {
    name: flags.name,
    dataDir,
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
    maxClientConnections: flags.maxClientConnections === undefined ? defaultMaxClientConnections(processOpenFileLimit()) : positiveInteger('max-client-connections', flags.maxClientConnections),
    maxTxnOps: positiveInteger('max-txn-ops', flags.maxTxnOps ?? DEFAULT_MAX_TXN_OPS),
    ...optionalTls('clientTls', clientTls),
    ...optionalTls('peerTls', peerTls),
    ...(proxy !== undefined ? { proxy } : {}),
    warnings: openDoors(clientTls, peerListen),
  };
}

