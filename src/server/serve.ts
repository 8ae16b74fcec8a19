import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { DataDirError } from '../storage/errors.ts';
import { ClientApi } from './client-api.ts';
import type { ServeFlags } from './config.ts';
import { ConfigError, resolveConfig } from './config.ts';
import { Logger } from './logger.ts';
import { Member, StartError } from './member.ts';

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

/**
 * Runs a member until SIGTERM/SIGINT: then it stops taking requests, hands leadership to the most
 * up-to-date follower if it leads, lets in-flight requests finish, flushes and exits 0.
 */
export async function serve(flags: ServeFlags): Promise<number> {
  let config;
  try {
    config = resolveConfig(flags);
  } catch (error) {
    if (error instanceof ConfigError) throw new ServeError(error.message);
    throw error;
  }
  const log = new Logger(config.logLevel, config.logFormat);
  let member: Member;
  try {
    member = await Member.start(config, log);
  } catch (error) {
    if (error instanceof DataDirError || error instanceof StartError) throw new ServeError(error.message);
    throw error;
  }
  const api = new ClientApi(member, log);
  const servers: http.Server[] = [];
  try {
    for (const url of config.listenPeerUrls) {
      const server = http.createServer((req, res) => member.transport.handle(req, res));
      await listen(server, url, 'peers');
      servers.push(server);
    }
    for (const url of config.listenClientUrls) {
      const server = http.createServer((req, res) => api.handle(req, res));
      server.requestTimeout = 0;
      await listen(server, url, 'clients');
      servers.push(server);
      log.info('serving clients', { url: `${url.protocol}//${url.hostname}:${(server.address() as AddressInfo).port}` });
    }
  } catch (error) {
    for (const server of servers) server.close();
    await member.stop();
    throw error;
  }

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = async (signal: string): Promise<void> => {
      if (stopping) return;
      stopping = true;
      log.info('stopping', { signal });
      api.drain();
      if (member.isLeader) {
        const target = member.bestTransferTarget();
        if (target !== undefined) {
          const moved = await member.transferLeadership(target, config.electionTimeoutMs);
          log.info(moved ? 'leadership transferred' : 'leadership transfer timed out', { to: target.toString(16) });
        }
      }
      for (const server of servers) {
        server.close();
        server.closeIdleConnections();
      }
      await member.stop();
      for (const server of servers) server.closeAllConnections();
      log.info('stopped');
      resolve(0);
    };
    process.once('SIGTERM', () => void stop('SIGTERM'));
    process.once('SIGINT', () => void stop('SIGINT'));
    member.onRemoved = () => void stop('removed from the cluster');
  });
}
