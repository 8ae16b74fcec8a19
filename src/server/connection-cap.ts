import { readFileSync } from 'node:fs';
import type net from 'node:net';
import { LEVELDB_MAX_OPEN_FILES } from '../storage/disk-storage.ts';
import type { Logger } from './logger.ts';
import { MAX_PEER_CONNECTIONS } from './peer-limits.ts';

/**
 * Descriptors kept free for everything but client connections: LevelDB's log, manifest and table
 * files (at most LEVELDB_MAX_OPEN_FILES), the peer listener's connections (at most
 * MAX_PEER_CONNECTIONS), and 64 for the rest: connections to the peers, a snapshot being
 * received, and Node's own (stdio, the event loop, DNS, timers).
 */
export const DESCRIPTOR_RESERVE = LEVELDB_MAX_OPEN_FILES + MAX_PEER_CONNECTIONS + 64;

/** What a process is assumed to have when /proc/self/limits cannot be read (not Linux). */
const ASSUMED_OPEN_FILE_LIMIT = 1024;

/** The soft RLIMIT_NOFILE in the text of /proc/<pid>/limits: undefined for "unlimited" or none. */
export function openFileLimit(limits: string): number | undefined {
  const soft = /^Max open files\s+(\S+)/m.exec(limits)?.[1];
  const value = Number(soft);
  return Number.isInteger(value) && value > 0 ? value : undefined;
}

/**
 * The default --max-client-connections for a descriptor limit: the limit less the reserve; under
 * a very low limit (below twice the reserve), half of it. Infinity when there is no limit.
 */
export function defaultMaxClientConnections(limit: number | undefined): number {
  if (limit === undefined) return Number.POSITIVE_INFINITY;
  return limit >= 2 * DESCRIPTOR_RESERVE ? limit - DESCRIPTOR_RESERVE : Math.max(1, Math.floor(limit / 2));
}

/** This process's descriptor limit (Node raises the soft limit to the hard one as it starts). */
export function processOpenFileLimit(): number | undefined {
  try {
    return openFileLimit(readFileSync('/proc/self/limits', 'utf8'));
  } catch {
    return ASSUMED_OPEN_FILE_LIMIT;
  }
}

const REFUSAL_LOG_INTERVAL_MS = 10_000;

/**
 * A cap on the client connections open at once, across every client listener: one over it is
 * closed as soon as it is accepted. With the cap below the descriptor limit, no number of clients
 * can starve the storage of descriptors (a write that cannot open a file stops the member) nor
 * the peers of connections.
 */
export class ConnectionCap {
  readonly max: number;
  private readonly log: Logger;
  private open = 0;
  private refused = 0;
  private lastWarning = Number.NEGATIVE_INFINITY;

  constructor(max: number, log: Logger) {
    this.max = max;
    this.log = log;
  }

  /** Counts the connections `server` accepts against the cap. */
  admit(server: net.Server): void {
    server.on('connection', (socket: net.Socket) => {
      if (this.open >= this.max) {
        socket.destroy();
        this.noteRefusal();
        return;
      }
      this.open++;
      socket.once('close', () => this.open--);
    });
  }

  /** At most one line every REFUSAL_LOG_INTERVAL_MS: a flood must not flood the log too. */
  private noteRefusal(): void {
    this.refused++;
    const now = Date.now();
    if (now - this.lastWarning < REFUSAL_LOG_INTERVAL_MS) return;
    this.lastWarning = now;
    this.log.warn('too many client connections: refusing new ones', { open: this.open, max: this.max, refused: this.refused });
    this.refused = 0;
  }
}
