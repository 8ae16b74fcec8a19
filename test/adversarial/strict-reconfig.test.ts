import assert from 'node:assert/strict';
import { requireBinary } from '../helpers/binary.ts';
import { TestCluster } from '../helpers/cluster.ts';
import type { EtcdProcess } from '../helpers/etcd.ts';
import { startEtcd } from '../helpers/etcd.ts';
import { freePort } from '../helpers/ports.ts';

interface Answer {
  readonly status: number;
  readonly body: unknown;
}

async function membersCall(endpoint: string, method: 'POST' | 'DELETE', path: string, body?: string): Promise<Answer> {
  const response = await fetch(`${endpoint}/v2/members${path}`, { method, ...(body !== undefined ? { body, headers: { 'content-type': 'application/json' } } : {}) });
  const text = await response.text();
  return { status: response.status, body: text === '' ? '' : JSON.parse(text) };
}

const add = (endpoint: string, body: string) => membersCall(endpoint, 'POST', '', body);
const remove = (endpoint: string, id: string) => membersCall(endpoint, 'DELETE', `/${id}`);
const addPeer = async (endpoint: string, learner = false) => add(endpoint, JSON.stringify({ peerURLs: [`http://127.0.0.1:${await freePort()}`], ...(learner ? { isLearner: true } : {}) }));

async function memberIds(endpoint: string): Promise<Map<string, string>> {
  const { members } = (await (await fetch(`${endpoint}/v2/members`)).json()) as { members: Array<{ id: string; name: string }> };
  return new Map(members.map((m) => [m.name, m.id]));
}

const NOT_ENOUGH_STARTED: Answer = { status: 500, body: { message: 'Internal Server Error' } };

describe('members API: bad bodies and strict reconfiguration, as etcd (issue 15)', function () {
  this.timeout(90_000);
  let etcd: EtcdProcess | undefined;
  const clusters: TestCluster[] = [];

  before(() => requireBinary());
  after(async () => {
    for (const cluster of clusters) await cluster.destroy();
    await etcd?.stop();
  });

  it('answers 400 with etcd\'s message to a body that is null, not an object, without peerURLs or with a bad peer URL; isLearner must be a boolean', async () => {
    const cluster = await TestCluster.start(1);
    clusters.push(cluster);
    const reference = await startEtcd(1);
    etcd = reference;
    const bodies = ['null', '5', '[]', '{}', '{"peerURLs":[]}', '{"peerURLs":"http://127.0.0.1:1"}', '{"peerURLs":[5]}', '{"peerURLs":["foo"]}', '{"peerURLs":["http://127.0.0.1"]}', '{"peerURLs":["http://127.0.0.1:1/x"]}'];
    for (const body of bodies) {
      const [fromKvd, fromEtcd] = await Promise.all([add(cluster.members[0]!.clientUrl, body), add(reference.endpoint, body)]);
      assert.equal(fromEtcd.status, 400, body);
      assert.deepEqual(fromKvd, fromEtcd, body);
    }
    // etcd 3.4's v2 API has no learners and ignores the field; kvd has them, and a learner asked for
    // with "yes" must not become a voter.
    const learner = await add(cluster.members[0]!.clientUrl, '{"peerURLs":["http://127.0.0.1:1"],"isLearner":"yes"}');
    assert.deepEqual(learner, { status: 400, body: { message: 'json: cannot unmarshal string into Go struct field .isLearner of type bool' } });
    assert.equal((await memberIds(cluster.members[0]!.clientUrl)).size, 1);
  });

  it('a one-member cluster takes one member that never starts, then refuses another voter and the removal of the started one, as etcd', async () => {
    const cluster = await TestCluster.start(1);
    clusters.push(cluster);
    const reference = etcd ?? (etcd = await startEtcd(1));
    for (const endpoint of [cluster.members[0]!.clientUrl, reference.endpoint]) {
      const self = [...(await memberIds(endpoint)).values()][0]!;
      assert.equal((await addPeer(endpoint)).status, 201, endpoint);
      assert.deepEqual(await addPeer(endpoint), NOT_ENOUGH_STARTED, endpoint);
      assert.deepEqual(await remove(endpoint, self), NOT_ENOUGH_STARTED, endpoint);
      assert.equal((await memberIds(endpoint)).size, 2, endpoint);
    }
    await cluster.waitForLog(cluster.members[0]!, /refused to add a voting member: etcdserver: re-configuration failed due to not enough started members/);
  });

  it('counts only started voters: a learner may be added and removed while another voter may not be', async () => {
    const cluster = await TestCluster.start(2);
    clusters.push(cluster);
    const endpoint = cluster.members[0]!.clientUrl;
    // 2 started of 3 voters is still a quorum.
    const silent = await addPeer(endpoint);
    assert.equal(silent.status, 201);
    assert.deepEqual(await addPeer(endpoint), NOT_ENOUGH_STARTED);
    const learner = await addPeer(endpoint, true);
    assert.equal(learner.status, 201);
    // Without m1, m2 alone of {m2, silent} is no quorum.
    assert.deepEqual(await remove(endpoint, (await memberIds(endpoint)).get('m1')!), NOT_ENOUGH_STARTED);
    assert.deepEqual(await remove(endpoint, (learner.body as { id: string }).id), { status: 204, body: '' });
    assert.deepEqual(await remove(endpoint, (silent.body as { id: string }).id), { status: 204, body: '' });
    assert.deepEqual([...(await memberIds(endpoint)).keys()].sort(), ['m1', 'm2']);
  });
});
