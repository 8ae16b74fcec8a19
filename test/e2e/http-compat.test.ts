import assert from 'node:assert/strict';
import http from 'node:http';
import { requireBinary } from '../helpers/binary.ts';
import { TestCluster, allStarted } from '../helpers/cluster.ts';
import type { EtcdProcess } from '../helpers/etcd.ts';
import { startEtcd } from '../helpers/etcd.ts';

interface Raw {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A raw request: the path goes out byte for byte, as curl sends it. */
function raw(endpoint: string, method: string, path: string, body?: string, contentType?: string): Promise<Raw> {
  const url = new URL(endpoint);
  return new Promise((resolve, reject) => {
    const request = http.request({ host: url.hostname, port: url.port, method, path, headers: contentType ? { 'content-type': contentType } : {} }, (response) => {
      let text = '';
      response.on('data', (c: Buffer) => (text += c.toString()));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: text }));
    });
    request.on('error', reject);
    request.end(body);
  });
}

/** What must agree: status, the headers clients look at, and the body with numbers masked. */
function comparable(answer: Raw): Record<string, unknown> {
  const masked = answer.body.replace(/"(modifiedIndex|createdIndex|index)":\d+/g, '"$1":N').replace(/\[\d+\]/g, '[N]');
  return {
    status: answer.status,
    contentType: answer.headers['content-type'],
    allow: answer.headers.allow,
    location: answer.headers.location,
    body: masked,
  };
}

describe('kvd and etcd 3.4 side by side: the same raw HTTP requests, the same answers', function () {
  let etcd: EtcdProcess;
  let kvd: TestCluster;
  before(async () => {
    requireBinary();
    await allStarted([startEtcd().then((started) => (etcd = started)), TestCluster.start(1).then((started) => (kvd = started))]);
    for (const endpoint of [etcd.endpoint, kvd.members[0]!.clientUrl]) {
      await raw(endpoint, 'PUT', '/v2/keys/cmp/a', 'value=1', 'application/x-www-form-urlencoded');
      await raw(endpoint, 'PUT', '/v2/keys/cmp/_hidden', 'value=h', 'application/x-www-form-urlencoded');
    }
  });
  after(async () => Promise.all([etcd?.stop(), kvd?.destroy()]));

  const cases: Array<[string, string, string?, string?]> = [
    ['GET', '/v2/keys/cmp/a'],
    ['GET', '/v2/keys/cmp?recursive=true'],
    ['HEAD', '/v2/keys/cmp/a'],
    ['GET', '/v2/keys/cmp//a'],
    ['GET', '/v2/keys/cmp/./a?x=1'],
    ['GET', '/v2/keys/cmp/./a?x=1&y=<2>'],
    ['PUT', '/v2/keys/cmp/../cmp/b', 'value=1', 'application/x-www-form-urlencoded'],
    ['GET', '/v2/keys/cmp/%2E%2E/cmp/a'],
    ['GET', '/v2/keys/cmp%zz'],
    ['GET', '/v2/keys/cmp/a/'],
    ['GET', '/v2/keys/cmp%2Fa'],
    ['PATCH', '/v2/keys/cmp/a'],
    ['PUT', '/v2/keys/cmp/json', '{"value":"x"}', 'application/json'],
    ['POST', '/version'],
    ['PUT', '/health'],
    ['DELETE', '/v2/stats/store'],
    ['HEAD', '/v2/members'],
    ['GET', '/nope'],
    ['DELETE', '/v2/keys/', undefined, undefined],
    ['DELETE', '/v2/keys/?prevValue=x'],
  ];
  for (const [method, path, body, contentType] of cases) {
    it(`${method} ${path}${body ? ` (${contentType} body)` : ''}`, async () => {
      const [fromEtcd, fromKvd] = await Promise.all([raw(etcd.endpoint, method, path, body, contentType), raw(kvd.members[0]!.clientUrl, method, path, body, contentType)]);
      assert.deepEqual(comparable(fromKvd), comparable(fromEtcd));
    });
  }

  it('GET /health, /version, /v2/stats/store and /v2/members have etcd\'s shape', async () => {
    const [etcdHealth, kvdHealth] = await Promise.all([raw(etcd.endpoint, 'GET', '/health'), raw(kvd.members[0]!.clientUrl, 'GET', '/health')]);
    assert.equal(kvdHealth.headers['content-type'], etcdHealth.headers['content-type']);
    assert.equal(JSON.parse(kvdHealth.body).health, 'true');
    const keysOf = (text: string) => Object.keys(JSON.parse(text) as object);
    const [etcdVersion, kvdVersion] = await Promise.all([raw(etcd.endpoint, 'GET', '/version'), raw(kvd.members[0]!.clientUrl, 'GET', '/version')]);
    for (const key of keysOf(etcdVersion.body)) assert.ok(keysOf(kvdVersion.body).includes(key), key);
    const [etcdStats, kvdStats] = await Promise.all([raw(etcd.endpoint, 'GET', '/v2/stats/store'), raw(kvd.members[0]!.clientUrl, 'GET', '/v2/stats/store')]);
    assert.deepEqual(keysOf(kvdStats.body).sort(), keysOf(etcdStats.body).sort());
    const members = JSON.parse((await raw(kvd.members[0]!.clientUrl, 'GET', '/v2/members')).body) as { members: Array<Record<string, unknown>> };
    assert.deepEqual(Object.keys(members.members[0]!), ['id', 'name', 'peerURLs', 'clientURLs']);
  });
});
