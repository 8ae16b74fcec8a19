import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { DataDirError } from '../storage/errors.ts';
import { ClientApi } from './client-api.ts';
import type { ProxyConfig, ServeConfig, ServeFlags } from './config.ts';
import { ConfigError, resolveConfig } from './config.ts';
import { ConnectionCap } from './connection-cap.ts';
import { FailStop } from './fail-stop.ts';
import { Logger } from './logger.ts';
import type { Member } from './member.ts';
import { StartError } from './member-start.ts';
import { formatId } from './member-id.ts';
import { Outbound } from './outbound.ts';
import type { PeerTransport } from './peer-transport.ts';
import { limitPeerListener } from './peer-limits.ts';
import { ProxyMember } from './proxy-member.ts';
import { startMember } from './start-member.ts';
import { ensureSelfSigned } from './self-signed.ts';
import { shareOnePort } from './shared-port.ts';
import { passUnknownMethods } from './unknown-method.ts';
import { TlsError, TlsMaterial, createListener } from './tls.ts';

/** A failure to start that the operator can fix: printed as one line, exit code 1. */
export class ServeError extends Error {}

function listen(server: http.Server, url: URL, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      const reason = error.code === 'EADDRINUSE' ? 'address already in use' : error.code === 'EACCES' ? 'permission denied' : error.message;
      reject(new ServeError(`cannot listen for ${what} on ${url.origin}: ${reason}`));
    });
    server.listen(Number(url.port), url.hostname.replace(/^\[|\]$/g, ''), () => resolve());
  });
}

/** What a listener answers while the member is still opening its data dir. */
function answerNotReady(_req: http.IncomingMessage, res: http.ServerResponse): void {
  res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8', 'retry-after': '1' }).end('starting\n');
}

/**
 * The data dir's record of this member's peer URLs wins over --initial-advertise-peer-urls (as in
 * etcd): an operator who changed the flag to move the member is told that it had no effect.
 */
function warnOfOtherPeerUrls(member: Member, given: readonly string[], log: Logger): void {
  const recorded = [...(member.members.get(member.id)?.peerURLs ?? [])].sort().join(',');
  const wanted = [...given].sort().join(',');
  if (recorded === '' || recorded === wanted) return;
  log.warn(`the data dir records this member's peer URLs as ${recorded}, not ${wanted} as --initial-advertise-peer-urls says; the recorded ones are used: to change them, run kvctl member update ${formatId(member.id)} ${wanted}`);
}

/** How `serve` ended: stopped by a signal (or removal), or halted because the member could not go on. */
export type ServeOutcome = 'stopped' | 'halted';

/**
 * Runs a member until SIGTERM/SIGINT: then it stops taking requests, hands leadership to the most
 * up-to-date follower if it leads, lets in-flight requests finish, flushes and exits 0. A member
 * that cannot persist or apply closes its listeners and ends 'halted' at once (FailStop).
 */
export async function serve(flags: ServeFlags): Promise<ServeOutcome> {
  let config;
  try {
    config = resolveConfig(flags);
  } catch (error) {
    if (error instanceof ConfigError) throw new ServeError(error.message);
    throw error;
  }
  const log = new Logger(config.logLevel, config.logFormat);
  for (const warning of config.warnings) log.warn(warning);
  let clientTls: TlsMaterial | undefined;
  let peerTls: TlsMaterial | undefined;
  try {
    if (config.clientTls !== undefined) await ensureSelfSigned(config.clientTls, 'auto-tls');
    if (config.peerTls !== undefined) await ensureSelfSigned(config.peerTls, 'peer-auto-tls');
    clientTls = config.clientTls === undefined ? undefined : TlsMaterial.load('', config.clientTls);
    peerTls = config.peerTls === undefined ? undefined : TlsMaterial.load('peer-', config.peerTls);
  } catch (error) {
    if (error instanceof TlsError) throw new ServeError(error.message);
    throw error;
  }
  if (config.proxy !== undefined) return serveProxy(config, config.proxy, clientTls, peerTls, log);
  const failStop = new FailStop(log);
  // Every port is bound before the data dir is opened: a port in use leaves an absent dir absent.
  // Until the member is ready the listeners answer 503 (peers retry).
  let peerHandler: http.RequestListener = answerNotReady;
  let clientHandler: http.RequestListener = answerNotReady;
  const servers: http.Server[] = [];
  try {
    for (const url of config.listenPeerUrls) {
      const server = createListener(url, (req, res) => peerHandler(req, res), peerTls, 'peers', log);
      limitPeerListener(server);
      await listen(server, url, 'peers');
      servers.push(server);
    }
    await listenForClients(config, (req, res) => clientHandler(req, res), clientTls, servers, log, true);
  } catch (error) {
    for (const server of servers) server.close();
    throw error;
  }
  let member: Member;
  let peers: PeerTransport;
  try {
    ({ member, peers } = await startMember(config, log, peerTls, failStop.fatal));
  } catch (error) {
    // Clients that were answered 503 keep no connection open: the process ends now.
    for (const server of servers) {
      server.close();
      server.closeAllConnections();
    }
    if (error instanceof DataDirError || error instanceof StartError) throw new ServeError(error.message);
    throw error;
  }
  if (flags.initialAdvertisePeerUrls !== undefined) warnOfOtherPeerUrls(member, config.advertisePeerUrls, log);
  const api = new ClientApi(member, log);
  peerHandler = (req, res) => peers.handle(req, res);
  clientHandler = (req, res) => api.handle(req, res);
  for (const server of servers) failStop.guard(server);
  clientTls?.watch(log);
  peerTls?.watch(log);

  return new Promise<ServeOutcome>((resolve) => {
    let stopping = false;
    const stop = async (signal: string): Promise<void> => {
      if (stopping) return;
      stopping = true;
      log.info('stopping', { signal });
      api.drain();
      if (member.isLeader) {
        const target = member.bestTransferTarget();
        if (target !== undefined) {
          // As long as etcd gives it (its request timeout): the election timeout alone ran out,
          // on a loaded machine, while the transferee was still collecting its votes.
          const moved = await member.transferLeadership(target, member.requestTimeoutMs);
          log.info(moved ? 'leadership transferred' : 'leadership transfer timed out', { to: target.toString(16) });
        }
      }
      for (const server of servers) {
        server.close();
        server.closeIdleConnections();
      }
      await member.stop();
      for (const server of servers) server.closeAllConnections();
      clientTls?.close();
      peerTls?.close();
      log.info('stopped');
      resolve('stopped');
    };
    process.once('SIGTERM', () => void stop('SIGTERM'));
    process.once('SIGINT', () => void stop('SIGINT'));
    member.onRemoved = () => void stop('removed from the cluster');
    void failStop.halted.then(() => resolve('halted'));
  });
}

/** An idle keep-alive connection is closed after this long (Node's default, stated). */
const KEEP_ALIVE_TIMEOUT_MS = 5000;
/** A connection that has not sent a whole request head by then is closed (Node checks every 30 s). */
const HEADERS_TIMEOUT_MS = 10_000;

async function listenForClients(config: ServeConfig, handler: http.RequestListener, tls: TlsMaterial | undefined, servers: http.Server[], log: Logger, halfClosedAnswered = false): Promise<void> {
  const cap = new ConnectionCap(config.maxClientConnections, log);
  const listening = new Map<string, { server: http.Server; scheme: string }>();
  for (const url of config.listenClientUrls) {
    const server = createListener(url, handler, tls, 'clients', log);
    // Watches run as long as they like; idle and half-sent connections do not hold descriptors.
    server.requestTimeout = 0;
    if (halfClosedAnswered) answerHalfClosedClients(server);
    passUnknownMethods(server, handler);
    server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
    server.headersTimeout = HEADERS_TIMEOUT_MS;
    // http:// and https:// on one host and port: one listener, as etcd's (an error for two of one scheme).
    const port = `${url.hostname}:${url.port === '' ? url.protocol : url.port}`;
    const other = listening.get(port);
    if (other !== undefined && other.scheme !== url.protocol) {
      shareOnePort(other.server, server, other.scheme === 'https:');
      log.info('serving clients', { url: `${url.protocol}//${url.host}`, sharedWith: `${other.scheme}//${url.host}` });
      continue;
    }
    listening.set(port, { server, scheme: url.protocol });
    cap.admit(server);
    await listen(server, url, 'clients');
    servers.push(server);
    log.info('serving clients', { url: `${url.protocol}//${url.hostname}:${(server.address() as AddressInfo).port}`, maxConnections: cap.max });
  }
}

/**
 * A client that half-closes its socket (FIN) after its request still gets the answer, as from
 * etcd: by default Node aborts the request and ends the socket at the FIN, when a write may
 * already be proposed. The two switches are long-standing but untyped properties of Node's servers:
 * the HTTP layer's (keep the request, close after the answer) and the socket's (for TLS; a plain
 * HTTP server already has it). Not for a proxy: it takes a FIN as the client gone
 * and ends what it forwarded (a watch would otherwise stay open upstream until its next event).
 */
function answerHalfClosedClients(server: http.Server): void {
  const switches = server as http.Server & { httpAllowHalfOpen: boolean; allowHalfOpen: boolean };
  switches.httpAllowHalfOpen = true;
  switches.allowHalfOpen = true;
}

/** `--proxy on|readonly`: no data, no Raft; every client request goes to a member. */
async function serveProxy(config: ServeConfig, proxyConfig: ProxyConfig, clientTls: TlsMaterial | undefined, peerTls: TlsMaterial | undefined, log: Logger): Promise<ServeOutcome> {
  const proxy = new ProxyMember(proxyConfig, new Outbound(clientTls), new Outbound(peerTls), log, config.maxRequestBytes);
  await proxy.start();
  const servers: http.Server[] = [];
  try {
    await listenForClients(config, (req, res) => proxy.handle(req, res), clientTls, servers, log);
  } catch (error) {
    for (const server of servers) server.close();
    proxy.stop();
    throw error;
  }
  clientTls?.watch(log);
  log.info('proxy started', { mode: proxyConfig.mode, members: proxy.memberUrls.join(',') });
  return new Promise<ServeOutcome>((resolve) => {
    const stop = (signal: string): void => {
      log.info('stopping', { signal });
      for (const server of servers) {
        server.close();
        server.closeAllConnections();
      }
      proxy.stop();
      clientTls?.close();
      resolve('stopped');
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}
