import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { SNAPSHOT_FILE_VERSION, SnapshotFileEncoder } from '../../src/api/snapshot-file.ts';
import type { V2Event, V2Node } from '../../src/api/wire.ts';
import { encodeNode } from '../../src/server/store-image.ts';
import { KVCTL_BIN, requireBinary, run } from '../helpers/binary.ts';
import { TestCluster } from '../helpers/cluster.ts';

interface Answer {
  readonly status: number;
  readonly index: number;
  readonly body: V2Event & { errorCode?: number };
}

async function call(base: string, method: string, key: string, query = ''): Promise<Answer> {
  const response = await fetch(`${base}/v2/keys${key}${query === '' ? '' : `?${query}`}`, { method, signal: AbortSignal.timeout(10_000) });
  return { status: response.status, index: Number(response.headers.get('x-etcd-index')), body: (await response.json()) as Answer['body'] };
}

/** A node as the tree comparison sees it: everything but the TTL's countdown. */
type Flat = Map<string, Omit<V2Node, 'nodes' | 'ttl' | 'key'>>;

function flatten(node: V2Node, into: Flat = new Map()): Flat {
  for (const child of node.nodes ?? []) {
    const { nodes: _nodes, ttl: _ttl, key, ...fields } = child;
    into.set(key!, fields);
    flatten(child, into);
  }
  return into;
}

/** The tree after `event`, as the store applies it (the writer's operations only: sets, deletes, in-order creates). */
function applyEvent(tree: Flat, event: V2Event): void {
  const key = event.node!.key!;
  if (['delete', 'expire', 'compareAndDelete'].includes(event.action)) {
    for (const path of [...tree.keys()]) if (path === key || path.startsWith(`${key}/`)) tree.delete(path);
    return;
  }
  const { nodes: _nodes, ttl: _ttl, key: _key, ...fields } = event.node!;
  tree.set(key, fields);
}

/** The tree a member showed at `from`, moved on to `to` by the events of its history between them. */
async function treeAt(base: string, from: { tree: Flat; index: number }, to: number): Promise<Flat> {
  const tree = new Map(from.tree);
  for (let next = from.index + 1; next <= to; ) {
    const { body } = await call(base, 'GET', '/', `wait=true&recursive=true&waitIndex=${next}`);
    const index = body.node!.modifiedIndex!;
    if (index > to) break;
    applyEvent(tree, body);
    next = index + 1;
  }
  return tree;
}

async function kvctl(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return run(KVCTL_BIN, args, { timeoutMs: 60_000 });
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await probe();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const SEED_DIRS = 30;
const SEED_PER_DIR = 1000;
/** Values big enough that the file outgrows the sockets' buffers (~10 MB): a slow reader holds the member back. */
const PADDING = 'x'.repeat(300);

/** A snapshot file of SEED_DIRS directories of SEED_PER_DIR keys under /big, made directly. */
function seedFile(): Buffer {
  const encoder = new SnapshotFileEncoder();
  const last = 1 + SEED_DIRS * (1 + SEED_PER_DIR);
  const store = { index: last, historyCapacity: 1000, history: [] };
  const start = encoder.start({ version: SNAPSHOT_FILE_VERSION, created: new Date().toISOString(), index: last, raftIndex: last, term: 1, keys: SEED_DIRS * SEED_PER_DIR, clusterId: '0', member: 'seed', membership: {}, store });
  let index = 0;
  const node = (path: string, value: string | null) => encodeNode({ path, createdIndex: ++index, modifiedIndex: index, expireTime: 0, value });
  const records = [node('/big', null)];
  for (let d = 0; d < SEED_DIRS; d++) {
    records.push(node(`/big/d${d}`, null));
    for (let k = 0; k < SEED_PER_DIR; k++) records.push(node(`/big/d${d}/k${k}`, `seed-${d}-${k}-${PADDING}`));
  }
  return Buffer.concat([start, encoder.records(records), encoder.finish()]);
}

/** A new 3-member cluster whose members are restored from `file` with kvctl, then started. */
async function restoredCluster(file: string, beforeStart: () => Promise<unknown> = async () => undefined): Promise<TestCluster> {
  const cluster = await TestCluster.create(3);
  const initialCluster = cluster.members.map((m) => `${m.name}=${m.peerUrl}`).join(',');
  for (const member of cluster.members) {
    const restore = await kvctl(['snapshot', 'restore', file, '--name', member.name, '--initial-cluster', initialCluster, '--initial-advertise-peer-urls', member.peerUrl, '--data-dir', member.dataDir]);
    assert.equal(restore.code, 0, restore.stderr);
  }
  await beforeStart();
  for (const member of cluster.members) cluster.launch(member);
  await cluster.waitHealthy(30_000);
  return cluster;
}

describe('kvctl snapshot save, status and restore (3-member clusters)', function () {
  this.timeout(120_000);
  let source: TestCluster;
  let target: TestCluster | undefined;
  let dir: string;
  let file: string;
  let saved: { index: number; keys: number };
  /** The source's tree at the saved index, hidden keys aside. */
  let expected: Flat;
  let shortExpiry: number;

  before(async () => {
    requireBinary();
    dir = await mkdtemp(path.join(os.tmpdir(), 'kvd-snapshot-'));
    file = path.join(dir, 'backup.kvdsnap');
    // A source big enough that its snapshot streams in many slices, with writes landing between them.
    const seed = path.join(dir, 'seed.kvdsnap');
    await writeFile(seed, seedFile());
    source = await restoredCluster(seed);
    await rm(seed);
    const leader = source.members[0]!.clientUrl;
    const follower = source.members[1]!.clientUrl;
    for (const [method, key, query] of [
      ['PUT', '/base/dir/a', 'value=1'], ['PUT', '/base/_hidden', 'value=h'], ['PUT', '/_top', 'value=t'], ['PUT', '/base/empty', 'dir=true'],
      ['PUT', '/ttl/long', 'value=l&ttl=600'], ['PUT', '/ttl/dir', 'dir=true&ttl=600'], ['POST', '/queue', 'value=q1'], ['POST', '/queue', 'value=q2'], ['PUT', '/load/q', 'dir=true'],
    ] as const) assert.ok((await call(leader, method, key, query)).status < 300);
    const shortTtl = await call(leader, 'PUT', '/ttl/short', 'value=s&ttl=8');
    shortExpiry = Date.parse(shortTtl.body.node!.expiration!);
    // The tree before the writer starts, from the member the backup comes from, at a known index.
    const quorum = await call(follower, 'GET', '/', 'recursive=true&sorted=true&quorum=true');
    const start = { tree: flatten(quorum.body.node!), index: quorum.index };

    // A writer sets, deletes and appends while the member streams its snapshot.
    let ops = 0;
    let stop = false;
    const writer = (async () => {
      for (let i = 0; !stop && i < 600; i++, ops++) {
        const big = `/big/d${i % SEED_DIRS}/k${(i * 37) % SEED_PER_DIR}`;
        if (i % 6 === 3) await call(leader, 'DELETE', `/load/k${(i * 7) % 40}`);
        else if (i % 6 === 4) await call(leader, 'POST', '/load/q', `value=${i}`);
        else if (i % 6 === 5) await call(leader, 'DELETE', big);
        else if (i % 2 === 0) await call(leader, 'PUT', big, `value=v${i}`);
        else await call(leader, 'PUT', `/load/k${i % 40}`, `value=v${i}`);
      }
    })();
    await until('the writer to get going', async () => (ops >= 20 ? true : undefined));
    // A client that stops reading after the first part: the member waits for it (the file is far
    // bigger than the sockets' buffers) while the writer's writes land, then sends the rest.
    const response = await fetch(`${follower}/v2/kvd/snapshot`, { signal: AbortSignal.timeout(60_000) });
    assert.equal(response.status, 200);
    const reader = response.body!.getReader();
    const parts: Uint8Array[] = [];
    const first = await reader.read();
    parts.push(first.value!);
    const opsAtFirst = ops;
    await until('writes while the member streams', async () => (ops >= opsAtFirst + 30 ? true : undefined));
    for (let part = await reader.read(); !part.done; part = await reader.read()) parts.push(part.value);
    const opsAtEnd = ops;
    await until('writes after the save', async () => (ops >= opsAtEnd + 10 ? true : undefined));
    stop = true;
    await writer;
    await writeFile(file, Buffer.concat(parts));
    saved = { index: Number(response.headers.get('x-etcd-index')), keys: 0 };
    assert.ok(saved.index > start.index, 'writes happened before the save');
    assert.ok((await call(follower, 'GET', '/', 'quorum=true')).index > saved.index + 30, 'writes happened during and after the save');
    expected = await treeAt(follower, start, saved.index);
    // Every file of the tree, and the two hidden keys.
    saved.keys = [...expected.values()].filter((node) => node.dir !== true).length + 2;
  });

  after(async () => {
    await source?.destroy();
    await target?.destroy();
    await rm(dir, { recursive: true, force: true });
  });

  it('status prints the index, key count, size and a checksum that holds', async () => {
    const status = await kvctl(['snapshot', 'status', file, '-w', 'json']);
    assert.equal(status.code, 0, status.stderr);
    const shown = JSON.parse(status.stdout) as Record<string, unknown>;
    assert.equal(shown.index, saved.index);
    assert.equal(shown.keys, saved.keys);
    assert.equal(shown.size, (await stat(file)).size);
    assert.equal(shown.checksum, 'ok');
    assert.ok(!Number.isNaN(Date.parse(String(shown.created))));
  });

  it('kvctl snapshot save writes a checked file at the member\'s index, atomically', async () => {
    const url = source.members[0]!.clientUrl;
    const before = (await call(url, 'GET', '/')).index;
    const target = path.join(dir, 'saved', 'by-kvctl.kvdsnap');
    await mkdir(path.dirname(target));
    const save = await kvctl(['--endpoints', `http://127.0.0.1:1,${url}`, 'snapshot', 'save', target, '-w', 'json']);
    assert.equal(save.code, 0, save.stderr);
    const after = (await call(url, 'GET', '/')).index;
    const shown = JSON.parse(save.stdout) as Record<string, unknown>;
    assert.equal(shown.endpoint, url, 'the first endpoint that answers');
    assert.ok(Number(shown.index) >= before && Number(shown.index) <= after);
    assert.equal(shown.size, (await stat(target)).size);
    assert.deepEqual(await readdir(path.dirname(target)), ['by-kvctl.kvdsnap'], 'no temp file is left beside it');
    const status = await kvctl(['snapshot', 'status', target]);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /^index=\d+ keys=\d+ size=\d+ created=\S+ .*checksum=ok\n$/);
  });

  it('the endpoint answers GET only', async () => {
    const response = await fetch(`${source.members[0]!.clientUrl}/v2/kvd/snapshot`, { method: 'POST' });
    assert.equal(response.status, 405);
    assert.equal(response.headers.get('allow'), 'GET');
  });

  it('save refuses an endpoint that serves no snapshots, and leaves no file', async () => {
    const target = path.join(dir, 'saved', 'none.kvdsnap');
    const save = await kvctl(['--endpoints', 'http://127.0.0.1:1', 'snapshot', 'save', target]);
    assert.equal(save.code, 4, save.stderr);
    await assert.rejects(stat(target), { code: 'ENOENT' });
  });

  it('a damaged or truncated file is refused by status and restore with one line, exit 1', async () => {
    const bytes = await readFile(file);
    const flipped = Buffer.from(bytes);
    flipped[Math.floor(bytes.length / 2)] ^= 0x01;
    const damaged = { flipped, truncated: bytes.subarray(0, bytes.length - 100), 'not a snapshot': Buffer.from('{"node":{}}\n') };
    for (const [name, content] of Object.entries(damaged)) {
      const bad = path.join(dir, `${name.replaceAll(' ', '-')}.kvdsnap`);
      await writeFile(bad, content);
      const status = await kvctl(['snapshot', 'status', bad]);
      assert.equal(status.code, 1, name);
      assert.equal(status.stdout, '', name);
      assert.match(status.stderr, /^Error: .*(damaged|not a kvd snapshot)[^\n]*\n$/, name);
      const dataDir = path.join(dir, `restored-${name.replaceAll(' ', '-')}`);
      const restore = await kvctl(['snapshot', 'restore', bad, '--name', 'm1', '--initial-cluster', 'm1=http://127.0.0.1:1', '--data-dir', dataDir]);
      assert.equal(restore.code, 1, name);
      assert.match(restore.stderr, /^Error: .*(damaged|not a kvd snapshot)[^\n]*\n$/, name);
      await assert.rejects(stat(dataDir), { code: 'ENOENT' }, 'nothing written');
      await rm(bad);
    }
  });

  it('restore refuses a data dir that is not empty, and leaves it as it was', async () => {
    const dataDir = path.join(dir, 'in-use');
    await mkdir(dataDir);
    await writeFile(path.join(dataDir, 'keep'), 'mine');
    const restore = await kvctl(['snapshot', 'restore', file, '--name', 'm1', '--initial-cluster', 'm1=http://127.0.0.1:1', '--data-dir', dataDir]);
    assert.equal(restore.code, 1);
    assert.match(restore.stderr, /^Error: --data-dir .* is not empty[^\n]*\n$/);
    assert.deepEqual(await readdir(dataDir), ['keep']);
    assert.equal(await readFile(path.join(dataDir, 'keep'), 'utf8'), 'mine');
    await rm(dataDir, { recursive: true });
  });

  it('a new 3-member cluster restored from it serves exactly the saved tree, and goes on from its index', async () => {
    // The short TTL ran out while the backup sat on disk: it must expire when the cluster starts.
    assert.ok(expected.has('/ttl/short'), 'the short TTL key is in the backup');
    target = await restoredCluster(file, async () => until('the short TTL to run out', async () => (Date.now() > shortExpiry + 100 ? true : undefined)));
    const url = target.members[2]!.clientUrl;
    await until('the expired key to go', async () => ((await call(url, 'GET', '/ttl/short', 'quorum=true')).status === 404 ? true : undefined));

    const restored = await call(url, 'GET', '/', 'recursive=true&sorted=true&quorum=true');
    const sourceSide = new Map(expected);
    sourceSide.delete('/ttl/short');
    assert.deepEqual(flatten(restored.body.node!), sourceSide);
    assert.ok(restored.index >= saved.index, `X-Etcd-Index ${restored.index} continues from ${saved.index}`);
    for (const hidden of ['/base/_hidden', '/_top']) {
      const [a, b] = [await call(source.members[0]!.clientUrl, 'GET', hidden), await call(url, 'GET', hidden)];
      assert.equal(b.status, 200, hidden);
      assert.deepEqual(b.body.node, a.body.node, hidden);
    }
    const long = (await call(url, 'GET', '/ttl/long')).body.node!;
    assert.ok(long.ttl! > 500 && long.ttl! <= 600, `remaining TTL ${long.ttl}`);

    const appended = await call(target.members[0]!.clientUrl, 'POST', '/queue', 'value=q3');
    assert.equal(appended.status, 201);
    assert.ok(appended.body.node!.createdIndex! > saved.index);
    assert.ok(Number(path.basename(appended.body.node!.key!)) > saved.index, 'in-order keys continue above the saved index');
    const queue = (await call(url, 'GET', '/queue', 'sorted=true&quorum=true')).body.node!.nodes!.map((n) => n.value);
    assert.deepEqual(queue, ['q1', 'q2', 'q3']);
  });
});
