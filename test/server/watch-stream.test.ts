import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import type { StoreEvent } from '../../src/store/event.ts';
import { Store } from '../../src/store/store.ts';
import { applyCommand } from '../../src/server/keys-command.ts';
import type { KeysCommand } from '../../src/server/keys-command.ts';
import type { KeysMethod } from '../../src/server/keys-request.ts';
import type { KeysHost } from '../../src/server/keys-service.ts';
import { answerKeys } from '../../src/server/keys-service.ts';
import { streamWatch } from '../../src/server/watch-stream.ts';

const T0 = Date.UTC(2026, 10, 30, 9, 0, 0);

/** The member surface a watch uses, over a real store; a write applies at once. */
class FakeMember implements KeysHost {
  readonly store = new Store();
  readonly clusterId = 0x7e57c1d;
  readonly raftIndex = 40;
  readonly term = 3;
  readonly storeReplacedListeners = new Set<() => void>();

  proposeKeys(command: KeysCommand): Promise<{ event: StoreEvent; etcdIndex: number }> {
    return Promise.resolve({ event: applyCommand(this.store, command), etcdIndex: this.store.index });
  }

  linearizableRead(): Promise<void> {
    return Promise.resolve();
  }
}

function ask(member: FakeMember, method: KeysMethod, keyPath: string, query: string): ReturnType<typeof answerKeys> {
  return answerKeys(member, { method, keyPath, query, contentType: undefined, body: '', now: T0, allowed: () => Promise.resolve(true) });
}

/** The write calls of a socket's handle (each one a system call): what each wrote, as text. */
function recordHandleWrites(socket: net.Socket): string[] {
  const writes: string[] = [];
  // The handle is Node's internal TCP wrap (untyped): its write methods are wrapped to be counted.
  const handle = (socket as unknown as { _handle: Record<string, (...args: unknown[]) => unknown> })._handle;
  for (const method of ['writev', 'writeBuffer', 'writeLatin1String', 'writeUtf8String', 'writeAsciiString']) {
    const original = handle[method]!;
    handle[method] = (request: unknown, data: unknown, ...rest: unknown[]) => {
      writes.push(Array.isArray(data) ? data.filter((_, i) => method !== 'writev' || rest[0] === true || i % 2 === 0).join('') : String(data));
      return original.call(handle, request, data, ...rest);
    };
  }
  return writes;
}

/** A server that answers GET /v2/keys... watches only, as the keys layer does, and records its socket writes. */
async function watchServer(member: FakeMember): Promise<{ port: number; writes: string[][]; close: () => Promise<void> }> {
  const writes: string[][] = [];
  const server = http.createServer((req, res) => {
    const [path = '', query = ''] = (req.url ?? '').split('?');
    void ask(member, 'GET', path.slice('/v2/keys'.length), query).then((answer) => {
      assert.equal(answer.kind, 'watch');
      if (answer.kind === 'watch') streamWatch(req, res, answer, () => undefined);
    });
  });
  server.on('connection', (socket: net.Socket) => writes.push(recordHandleWrites(socket)));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const close = (): Promise<void> => {
    server.closeAllConnections();
    return new Promise((resolve) => server.close(() => resolve()));
  };
  return { port: (server.address() as AddressInfo).port, writes, close };
}

/** Sends one request on a new connection; resolves with everything received once `done` holds of it. */
function exchange(port: number, target: string, done: (received: string) => boolean, onData: (received: string) => void = () => undefined): Promise<string> {
  return new Promise((resolve, reject) => {
    let received = '';
    const socket = net.connect(port, '127.0.0.1', () => socket.write(`GET ${target} HTTP/1.1\r\nHost: x\r\n\r\n`));
    socket.setEncoding('latin1');
    socket.on('error', reject);
    socket.on('data', (text: string) => {
      received += text;
      onData(received);
      if (done(received)) {
        socket.destroy();
        resolve(received);
      }
    });
  });
}

const answerEnded = (received: string): boolean => received.endsWith('\r\n0\r\n\r\n');

describe('watch over HTTP: the socket writes of a long poll', () => {
  let member: FakeMember;
  let server: Awaited<ReturnType<typeof watchServer>>;

  beforeEach(async () => {
    member = new FakeMember();
    server = await watchServer(member);
  });

  afterEach(() => server.close());

  it('answers a long poll from the history in one write: the head, the event as one chunk, the end', async () => {
    await ask(member, 'PUT', '/a', 'value=one');
    const received = await exchange(server.port, '/v2/keys/a?wait=true&waitIndex=1', answerEnded);
    assert.match(received, /^HTTP\/1\.1 200 OK\r\n[^]*\r\ntransfer-encoding: chunked\r\n\r\n[0-9a-f]+\r\n\{"action":"set","node":\{"key":"\/a","value":"one"[^]*\}\n\r\n0\r\n\r\n$/i);
    assert.match(received, /\r\nx-etcd-index: 1\r\n/i);
    assert.deepEqual(server.writes[0], [received]);
  });

  it('flushes the head of a waiting long poll at once, as etcd does, then writes the event and the end together', async () => {
    let wrote = false;
    const received = await exchange(server.port, '/v2/keys/a?wait=true', answerEnded, (sofar) => {
      if (wrote || !sofar.endsWith('\r\n\r\n')) return;
      wrote = true;
      void ask(member, 'PUT', '/a', 'value=two');
    });
    const writes = server.writes[0]!;
    assert.equal(writes.length, 2);
    assert.match(writes[0]!, /^HTTP\/1\.1 200 OK\r\n[^]*\r\n\r\n$/);
    assert.match(writes[1]!, /^[0-9a-f]+\r\n\{"action":"set"[^]*\}\n\r\n0\r\n\r\n$/);
    assert.equal(writes.join(''), received);
  });
});
