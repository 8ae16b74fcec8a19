import assert from 'node:assert/strict';
import { requireBinary } from '../helpers/binary.ts';
import { TestCluster, allStarted } from '../helpers/cluster.ts';
import type { EtcdProcess } from '../helpers/etcd.ts';
import { startEtcd } from '../helpers/etcd.ts';
import type { RawAnswer } from '../helpers/raw-http.ts';
import { rawRequest } from '../helpers/raw-http.ts';

/** method, target, and etcd 3.4.23's answer to it: status and Location (if any). */
const CASES: ReadonlyArray<readonly [string, string, number, string?]> = [
  // Unclean paths: a 301 to the clean path, its bytes escaped as Go escapes a URL path.
  ['GET', '/v2/keys//a%0d%0aSet-Cookie:x', 301, '/v2/keys/a%0D%0ASet-Cookie:x'],
  ['GET', '/v2/keys/./%00', 301, '/v2/keys/%00'],
  ['GET', '/v2/keys/./%C3%A9', 301, '/v2/keys/%C3%A9'],
  ['GET', '/v2/keys/./%FF', 301, '/v2/keys/%FF'],
  ['GET', '/v2//keys/%E2%82%AC', 301, '/v2/keys/%E2%82%AC'],
  ['GET', '/v2//keys/a%3fb%25c%23d', 301, '/v2/keys/a%3Fb%25c%23d'],
  ['GET', '/v2/keys/./%C3%A9?value=%0d%0a', 301, '/v2/keys/%C3%A9?value=%0d%0a'],
  ['HEAD', '/v2/keys/../%0a', 301, '/v2/%0A'],
  ['PUT', '/v2//keys/%0d%0a', 301, '/v2/keys/%0D%0A'],
  ['DELETE', '/v2/keys/a/..%2F..%2F%00/../b', 301, '/v2/b'],
  // Clean paths are keys, whatever bytes they hold: served (here: not found), never redirected.
  ['GET', '/v2/keys/a%0d%0aSet-Cookie:x', 404],
  ['GET', '/v2/keys/%00', 404],
  ['GET', '/v2/keys/%C3%A9', 404],
  ['GET', '/v2/keys/%FF', 404],
];

/** No header line carries a raw CR, LF or NUL, and none was injected. */
function assertHeadersSound(answer: RawAnswer, what: string): void {
  for (const line of answer.headerLines) assert.doesNotMatch(line, /[\r\n\0]/, `${what}: a raw control character in the header line ${JSON.stringify(line)}`);
  assert.ok(!answer.headerLines.some((line) => /^set-cookie:/i.test(line)), `${what}: a header was injected`);
  const locations = answer.headerLines.filter((line) => /^location:/i.test(line));
  assert.ok(locations.length <= 1, `${what}: ${locations.length} Location headers`);
}

function locationOf(answer: RawAnswer): string | undefined {
  return answer.headerLines.find((line) => /^location:/i.test(line))?.replace(/^location:\s*/i, '');
}

describe('adversarial: paths with CR, LF, NUL and non-ASCII bytes', function () {
  this.timeout(60_000);
  let kvd: TestCluster;
  let etcd: EtcdProcess | undefined;
  before(async () => {
    requireBinary();
    await allStarted([TestCluster.start(1).then((started) => (kvd = started)), startEtcd().then((started) => (etcd = started))]);
  });
  after(async () => Promise.all([kvd?.destroy(), etcd?.stop()]));

  for (const [method, target, status, location] of CASES) {
    it(`${method} ${target} answers ${status}${location === undefined ? '' : ` to ${location}`}, as etcd does`, async () => {
      const answer = await rawRequest(kvd.members[0]!.clientUrl, method, target);
      assertHeadersSound(answer, `${method} ${target}`);
      assert.equal(answer.status, status, answer.bytes.toString('latin1').slice(0, 300));
      assert.equal(locationOf(answer), location);
      const fromEtcd = await rawRequest(etcd!.endpoint, method, target);
      assert.deepEqual([answer.status, locationOf(answer)], [fromEtcd.status, locationOf(fromEtcd)], 'etcd answers otherwise');
    });
  }

  it('answers 400 to raw non-ASCII bytes in the request line (Node\'s HTTP parser refuses them; etcd serves them)', async () => {
    for (const target of ['/v2/keys/é', '/v2/keys/./é', '/v2/keys/€?value=x']) {
      const answer = await rawRequest(kvd.members[0]!.clientUrl, 'GET', Buffer.from(target, 'utf8'));
      assertHeadersSound(answer, target);
      assert.equal(answer.status, 400, target);
    }
  });

  it('logs no error for any of them', () => {
    assert.doesNotMatch(kvd.members[0]!.log, /ERROR/);
  });
});
