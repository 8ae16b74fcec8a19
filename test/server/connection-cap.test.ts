import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import { ConnectionCap, DESCRIPTOR_RESERVE, defaultMaxClientConnections, openFileLimit } from '../../src/server/connection-cap.ts';
import { MAX_PEER_CONNECTIONS } from '../../src/server/peer-limits.ts';
import { LEVELDB_MAX_OPEN_FILES } from '../../src/storage/disk-storage.ts';
import { ConfigError, resolveConfig } from '../../src/server/config.ts';
import { Logger } from '../../src/server/logger.ts';
import { waitUntil } from '../helpers/trees.ts';

const LIMITS = `Limit                     Soft Limit           Hard Limit           Units
Max cpu time              unlimited            unlimited            seconds
Max open files            4096                 524288               files
Max locked memory         8388608              8388608              bytes
`;

const flags = {
  name: 'm1', listenClientUrls: 'http://127.0.0.1:2379', listenPeerUrls: 'http://127.0.0.1:2380', initialClusterState: 'new', initialClusterToken: 't',
  snapshotCount: 10000, snapshotCatchupEntries: 5000, heartbeatInterval: 100, electionTimeout: 1000, logLevel: 'info', logFormat: 'text', maxRequestBytes: 1024,
};

/** Connects to `port`; resolves whether the server kept the connection (false: it closed it). */
function kept(port: number, sockets: net.Socket[]): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    sockets.push(socket);
    socket.on('error', () => {});
    socket.once('close', () => resolve(false));
    // A kept connection is answered: a closed one never is.
    socket.once('connect', () => socket.write('GET / HTTP/1.1\r\nhost: x\r\n\r\n'));
    socket.once('data', () => resolve(true));
  });
}

describe('client connection cap', () => {
  it('reads the soft descriptor limit from /proc/<pid>/limits', () => {
    assert.equal(openFileLimit(LIMITS), 4096);
    assert.equal(openFileLimit(LIMITS.replace('4096   ', 'unlimited')), undefined);
    assert.equal(openFileLimit(''), undefined);
  });

  it('leaves room for all LevelDB may open and all the peer listener takes (LevelDB\'s own default of 1,000 files was over the reserve of 128)', () => {
    assert.ok(4096 - defaultMaxClientConnections(4096) >= LEVELDB_MAX_OPEN_FILES + MAX_PEER_CONNECTIONS + 32);
    assert.ok(LEVELDB_MAX_OPEN_FILES <= 64);
  });

  it('defaults to the limit less a reserve for storage and peers, half a very low limit, no cap without a limit', () => {
    assert.equal(defaultMaxClientConnections(4096), 4096 - DESCRIPTOR_RESERVE);
    assert.equal(defaultMaxClientConnections(2 * DESCRIPTOR_RESERVE - 2), DESCRIPTOR_RESERVE - 1);
    assert.equal(defaultMaxClientConnections(100), 50);
    assert.equal(defaultMaxClientConnections(undefined), Number.POSITIVE_INFINITY);
  });

  it('--max-client-connections is a whole number above 0; without it, the default is below this process\'s limit', () => {
    assert.equal(resolveConfig({ ...flags, maxClientConnections: 7 }).maxClientConnections, 7);
    assert.throws(() => resolveConfig({ ...flags, maxClientConnections: 0 }), (e: unknown) => e instanceof ConfigError && /--max-client-connections/.test(e.message));
    assert.ok(resolveConfig(flags).maxClientConnections > 0);
  });

  it('counts the connections of every listener against one cap and closes one over it at once', async () => {
    const lines: string[] = [];
    const cap = new ConnectionCap(2, new Logger('info', 'text', (line) => lines.push(line)));
    const servers = [http.createServer((_req, res) => res.end('ok')), http.createServer((_req, res) => res.end('ok'))];
    const sockets: net.Socket[] = [];
    try {
      for (const server of servers) {
        cap.admit(server);
        await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      }
      const [a, b] = servers.map((s) => (s.address() as AddressInfo).port) as [number, number];
      assert.equal(await kept(a, sockets), true);
      assert.equal(await kept(b, sockets), true);
      assert.equal(await kept(b, sockets), false);
      assert.equal(await kept(a, sockets), false);
      assert.equal(lines.filter((line) => /too many client connections/.test(line)).length, 1, lines.join('\n'));
      // A closed connection frees its place.
      const closed = new Promise((resolve) => sockets[0]!.once('close', resolve));
      sockets[0]!.destroy();
      await closed;
      // The server sees the close a moment later: ask until it has.
      await waitUntil('a connection admitted again after one had closed', () => kept(a, sockets));
      assert.equal(await kept(b, sockets), false);
    } finally {
      for (const socket of sockets) socket.destroy();
      for (const server of servers) server.close();
    }
  });
});
