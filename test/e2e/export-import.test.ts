import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { runExport } from '../../src/cli/commands/export.ts';
import { runImport } from '../../src/cli/commands/import.ts';
import { ExitCode } from '../../src/cli/exit-code.ts';
import { BufferIo } from '../../src/cli/io.ts';
import { HttpTransport } from '../../src/client/http-transport.ts';
import { KeysClient } from '../../src/client/keys-client.ts';
import { KVCTL_BIN, requireBinary, run } from '../helpers/binary.ts';
import { TestCluster, allStarted } from '../helpers/cluster.ts';
import type { EtcdProcess } from '../helpers/etcd.ts';
import { startEtcd } from '../helpers/etcd.ts';
import { keys, treeBelow } from '../helpers/trees.ts';

/** A tree with every kind of node: values, empty and nested directories, TTL keys and directories, in-order keys, hidden keys. */
async function writeEveryKind(endpoint: string, root: string): Promise<void> {
  await keys(endpoint, 'PUT', `${root}/a`, { value: 'one' });
  await keys(endpoint, 'PUT', `${root}/empty`, { dir: 'true' });
  await keys(endpoint, 'PUT', `${root}/nested/deeper/leaf`, { value: 'x\ny "quoted" ✓' });
  await keys(endpoint, 'PUT', `${root}/ttl`, { value: 'short-lived', ttl: '300' });
  await keys(endpoint, 'PUT', `${root}/ttldir`, { dir: 'true', ttl: '300' });
  await keys(endpoint, 'PUT', `${root}/ttldir/inside`, { value: 'in a TTL directory' });
  await keys(endpoint, 'POST', `${root}/queue`, { value: 'first' });
  await keys(endpoint, 'POST', `${root}/queue`, { value: 'second' });
  await keys(endpoint, 'PUT', `${root}/_hidden/secret`, { value: 's3cret' });
  await keys(endpoint, 'PUT', `${root}/nested/_flag`, { value: 'on' });
}

function clientOf(endpoint: string): { client: KeysClient; transport: HttpTransport } {
  const transport = new HttpTransport({ endpoints: [endpoint], timeoutMs: 5000 });
  return { client: new KeysClient(transport), transport };
}

async function exportText(endpoint: string, key: string, hidden: string[] = []): Promise<string> {
  const { client, transport } = clientOf(endpoint);
  const io = new BufferIo();
  try {
    await runExport({ key, hidden }, { client, io, now: () => new Date() });
  } finally {
    transport.close();
  }
  return io.stdout.join('\n');
}

async function importText(endpoint: string, text: string, options: { prefix?: string; overwrite?: boolean; verbose?: boolean; progress?: (done: number, total: number) => void } = {}): Promise<BufferIo> {
  const { client, transport } = clientOf(endpoint);
  const io = new BufferIo();
  try {
    await runImport(
      { text, source: 'test.json', ...(options.prefix !== undefined ? { prefix: options.prefix } : {}), overwrite: options.overwrite ?? false, verbose: options.verbose ?? false, concurrency: 8, format: 'simple' },
      { client, io, now: Date.now, target: endpoint, ...(options.progress !== undefined ? { progress: options.progress } : {}) },
    );
  } finally {
    transport.close();
  }
  return io;
}

describe('kvctl export and import', function () {
  let kvd: TestCluster;
  let etcd: EtcdProcess;
  let endpoint: string;
  let dir: string;

  before(async function () {
    requireBinary();
    await allStarted([TestCluster.start(1).then((started) => (kvd = started)), startEtcd().then((started) => (etcd = started))]);
    endpoint = kvd.members[0]!.clientUrl;
    dir = await mkdtemp(path.join(os.tmpdir(), 'kvd-test-export-'));
  });
  after(async () => {
    await Promise.all([kvd?.destroy(), etcd?.stop()]);
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('round-trips every kind of node, hidden ones with --hidden, into another directory', async () => {
    await writeEveryKind(endpoint, '/src');
    const text = await exportText(endpoint, '/src', ['/src/_hidden', '/src/nested/_flag']);
    const doc = JSON.parse(text);
    assert.equal(doc.format, 'kvd-export');
    assert.equal(doc.version, 1);
    assert.ok(doc.nodes.some((node: { key: string; expiration?: string }) => node.key === '/src/ttl' && node.expiration !== undefined));
    const progress: number[] = [];
    const io = await importText(endpoint, text, { prefix: '/dst', progress: (done, total) => progress.push(done, total) });
    assert.deepEqual(progress.slice(-2), [15, 15]);
    assert.equal(progress.length, 30);
    assert.deepEqual(await treeBelow(endpoint, '/dst'), await treeBelow(endpoint, '/src'));
    assert.equal((await treeBelow(endpoint, '/dst')).filter((entry) => entry.expires).length, 2);
    assert.equal(((await keys(endpoint, 'GET', '/dst/_hidden/secret')).node as { value: string }).value, 's3cret');
    assert.equal(((await keys(endpoint, 'GET', '/dst/nested/_flag')).node as { value: string }).value, 'on');
    assert.match(io.stderr.join('\n'), /^import: wrote 15 of 15 nodes into/);
  });

  it('leaves hidden keys out without --hidden', async () => {
    const doc = JSON.parse(await exportText(endpoint, '/src'));
    assert.equal(doc.nodes.filter((node: { key: string }) => node.key.includes('/_')).length, 0);
    assert.deepEqual(doc.hidden, []);
  });

  it('creates only: a second import skips every existing key and counts it; --verbose names each', async () => {
    await keys(endpoint, 'PUT', '/dst/a', { value: 'changed' });
    const text = await exportText(endpoint, '/src');
    const io = await importText(endpoint, text, { prefix: '/dst', verbose: true });
    assert.equal(((await keys(endpoint, 'GET', '/dst/a')).node as { value: string }).value, 'changed');
    assert.ok(io.stderr.includes('skipped /dst/a: already there (use --overwrite to replace)'), io.stderr.join('\n'));
    assert.match(io.stderr.at(-1)!, /wrote 5 of 12 nodes .* skipped 7 already there/);
  });

  it('--overwrite replaces what exists', async () => {
    const io = await importText(endpoint, await exportText(endpoint, '/src'), { prefix: '/dst', overwrite: true });
    assert.equal(((await keys(endpoint, 'GET', '/dst/a')).node as { value: string }).value, 'one');
    assert.match(io.stderr.at(-1)!, /wrote 12 of 12 nodes/);
  });

  it('skips and counts keys whose expiration has passed, and gives the others their remaining TTL', async () => {
    const soon = new Date(Date.now() + 100_000).toISOString();
    const text = JSON.stringify({ format: 'kvd-export', version: 1, key: '/exp', index: 1, exportedAt: new Date().toISOString(), hidden: [], nodes: [
      { key: '/exp/gone', value: 'x', expiration: '2020-01-01T00:00:00Z' },
      { key: '/exp/later', value: 'y', expiration: soon },
    ] });
    const io = await importText(endpoint, text);
    assert.match(io.stderr.at(-1)!, /wrote 1 of 2 nodes .* skipped 1 expired/);
    assert.equal((await keys(endpoint, 'GET', '/exp/gone')).errorCode, 100);
    const ttl = ((await keys(endpoint, 'GET', '/exp/later')).node as { ttl: number }).ttl;
    assert.ok(ttl > 90 && ttl <= 100, String(ttl));
  });

  it('export -o writes the file whole; a malformed file is refused with one line and nothing written', async () => {
    const file = path.join(dir, 'src.json');
    const exported = await run(KVCTL_BIN, ['--endpoints', endpoint, 'export', '/src', '-o', file]);
    assert.equal(exported.code, ExitCode.OK, exported.stderr);
    const doc = JSON.parse(await readFile(file, 'utf8'));
    doc.nodes.splice(3, 0, { key: '/src/bad', value: 'v', dir: true });
    const bad = path.join(dir, 'bad.json');
    await writeFile(bad, JSON.stringify(doc));
    const refused = await run(KVCTL_BIN, ['--endpoints', endpoint, 'import', bad, '--prefix', '/never']);
    assert.equal(refused.code, ExitCode.USAGE);
    assert.match(refused.stderr, /^Error: .*bad\.json: nodes\[3\] \(\/src\/bad\): a node has either a "value" \(a file\) or "dir": true; nothing was imported\n$/);
    assert.equal((await keys(endpoint, 'GET', '/never')).errorCode, 100);
    await writeFile(bad, '{"format":"kvd-export","version":1,"key":"/x"');
    const truncated = await run(KVCTL_BIN, ['--endpoints', endpoint, 'import', bad]);
    assert.equal(truncated.code, ExitCode.USAGE);
    assert.match(truncated.stderr, /^Error: .*not JSON.*\n$/);
    const imported = await run(KVCTL_BIN, ['--endpoints', endpoint, 'import', file, '--prefix', '/fromfile']);
    assert.equal(imported.code, ExitCode.OK, imported.stderr);
    assert.deepEqual(await treeBelow(endpoint, '/fromfile'), await treeBelow(endpoint, '/src'));
  });

  it('works against etcd 3.4: export from kvd, import into etcd, export from etcd, import into kvd', async () => {
    await importText(etcd.endpoint, await exportText(endpoint, '/src', ['/src/_hidden']), { prefix: '/copied' });
    assert.deepEqual(await treeBelow(etcd.endpoint, '/copied'), await treeBelow(endpoint, '/src'));
    assert.equal(((await keys(etcd.endpoint, 'GET', '/copied/_hidden/secret')).node as { value: string }).value, 's3cret');
    await importText(endpoint, await exportText(etcd.endpoint, '/copied'), { prefix: '/back' });
    assert.deepEqual(await treeBelow(endpoint, '/back'), await treeBelow(endpoint, '/src'));
  });
});
