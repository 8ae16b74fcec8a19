import assert from 'node:assert/strict';
import { requireBinary } from '../helpers/binary.ts';
import { TestCluster } from '../helpers/cluster.ts';
import { bodyOf, chunksOf, rawConnection } from '../helpers/raw-http.ts';

interface Written {
  readonly key: string;
  readonly value: string;
  readonly index: number;
}

async function put(clientUrl: string, key: string, value: string): Promise<number> {
  const response = await fetch(`${clientUrl}/v2/keys${key}`, { method: 'PUT', body: new URLSearchParams({ value }), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  assert.ok(response.ok, await response.clone().text());
  return ((await response.json()) as { node: { modifiedIndex: number } }).node.modifiedIndex;
}

/** The body etcd (and a single JSON.stringify) gives for a sorted recursive get of /tree holding `written`. */
function expectedTree(written: readonly Written[]): string {
  const dirs = new Map<string, Written[]>();
  for (const w of written) {
    const dir = w.key.slice(0, w.key.lastIndexOf('/'));
    dirs.set(dir, [...(dirs.get(dir) ?? []), w]);
  }
  const created = (files: readonly Written[]) => Math.min(...files.map((f) => f.index));
  const nodes = [...dirs.keys()].sort().map((dir) => {
    const files = dirs.get(dir)!;
    const listed = [...files].sort((a, b) => (a.key < b.key ? -1 : 1)).map((f) => ({ key: f.key, value: f.value, modifiedIndex: f.index, createdIndex: f.index }));
    return { key: dir, dir: true, nodes: listed, modifiedIndex: created(files), createdIndex: created(files) };
  });
  const first = created(written);
  return `${JSON.stringify({ action: 'get', node: { key: '/tree', dir: true, nodes, modifiedIndex: first, createdIndex: first } })}\n`;
}

describe('adversarial: a big read while the tree is written', function () {
  this.timeout(120_000);
  let cluster: TestCluster;
  let clientUrl: string;
  before(async () => {
    requireBinary();
    cluster = await TestCluster.start(1);
    clientUrl = cluster.members[0]!.clientUrl;
  });
  after(async () => cluster?.destroy());

  it('answers a recursive get of many keys byte for byte at one index, in slices, with the writes made meanwhile left out', async () => {
    // ~7 MB: more than the kernel buffers between the sockets, so the member is still producing
    // the answer while the client below has stopped reading it.
    const written: Written[] = [];
    let next = 0;
    // Few writers: the member's throughput is what it is; more of them only make each write wait
    // longer in line, and on a loaded machine past the member's request timeout (a 300 answer).
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        for (let i = next++; i < 150; i = next++) {
          const key = `/tree/d${i % 10}/k${i}`;
          const value = `${i}:${'v'.repeat(48 * 1024)}`;
          written.push({ key, value, index: await put(clientUrl, key, value) });
        }
      }),
    );
    const answer = rawConnection(clientUrl, 'GET /v2/keys/tree?recursive=true&sorted=true HTTP/1.1\r\nHost: kvd\r\nConnection: close\r\n\r\n', { pauseAfterHead: true });
    await answer.head;

    // Rewrite keys, delete a directory, add keys and directories while the answer waits.
    const later = [put(clientUrl, '/tree/d1/k1', 'rewritten'), put(clientUrl, '/tree/d2/new', 'new'), put(clientUrl, '/tree/d99/k', 'new dir')];
    for (let i = 0; i < 30; i++) later.push(put(clientUrl, `/tree/d${i % 10}/k${i}`, `again ${i}`));
    await Promise.all(later);
    const deleted = await fetch(`${clientUrl}/v2/keys/tree/d3?recursive=true`, { method: 'DELETE' });
    assert.equal(deleted.status, 200);

    answer.socket.resume();
    await answer.ended;
    const received = answer.received();
    const head = received.toString('latin1', 0, received.indexOf('\r\n\r\n'));
    assert.match(head, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(head, /\r\ntransfer-encoding: chunked(\r\n|$)/i);
    assert.equal(Number(/\r\nx-etcd-index: (\d+)/i.exec(head)?.[1]), Math.max(...written.map((w) => w.index)));
    const { chunks, terminated } = chunksOf(bodyOf(received));
    assert.ok(terminated, 'the answer is complete');
    assert.ok(chunks.length > 10, `the answer came in ${chunks.length} chunks`);
    assert.equal(Buffer.concat(chunks).toString('utf8'), expectedTree(written));

    const now = (await (await fetch(`${clientUrl}/v2/keys/tree/d2/new`)).json()) as { node: { value: string } };
    assert.equal(now.node.value, 'new', 'the writes made during the read were applied');
  });

  it('reports the event loop\'s delay in /metrics: the longest since the last scrape, and a summary', async () => {
    const text = await (await fetch(`${clientUrl}/metrics`)).text();
    const number = String.raw`\d+(\.\d+)?(e-?\d+)?`;
    assert.match(text, new RegExp(String.raw`\n# TYPE kvd_event_loop_delay_max_seconds gauge\nkvd_event_loop_delay_max_seconds ${number}\n`));
    assert.match(text, /\n# TYPE kvd_event_loop_delay_seconds summary\n/);
    for (const quantile of ['0.5', '0.9', '0.99']) assert.match(text, new RegExp(String.raw`\nkvd_event_loop_delay_seconds\{quantile="${quantile}"\} ${number}\n`));
    const count = (metrics: string) => Number(/\nkvd_event_loop_delay_seconds_count (\d+)\n/.exec(metrics)?.[1]);
    assert.ok(count(text) > 0, 'the loop is sampled');
    assert.match(text, new RegExp(String.raw`\nkvd_event_loop_delay_seconds_sum ${number}\n`));
    assert.ok(count(await (await fetch(`${clientUrl}/metrics`)).text()) >= count(text), 'the count runs on across scrapes');
  });
});
