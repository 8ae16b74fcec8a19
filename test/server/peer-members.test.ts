import assert from 'node:assert/strict';
import type { MemberInfo } from '../../src/server/member-info.ts';
import { decodePeerMembers, encodePeerMembers } from '../../src/server/peer-members.ts';

const A: MemberInfo = { id: 0x9f, name: 'a', peerURLs: ['http://10.0.0.1:2380'], clientURLs: ['http://10.0.0.1:2379'] };
const B: MemberInfo = { id: 0x1a, name: 'b', peerURLs: ['http://10.0.0.2:2380'], clientURLs: [], isLearner: true };

describe('the peer member list (GET /members on a peer URL)', () => {
  it('is etcd\'s bare array, by id, in etcd\'s field order, ids as numbers', () => {
    assert.equal(
      encodePeerMembers([A, B]),
      '[{"id":26,"peerURLs":["http://10.0.0.2:2380"],"isLearner":true,"name":"b","clientURLs":[]},{"id":159,"peerURLs":["http://10.0.0.1:2380"],"name":"a","clientURLs":["http://10.0.0.1:2379"]}]',
    );
  });

  it('reads the array with the cluster id from X-Etcd-Cluster-Id', () => {
    const decoded = decodePeerMembers(JSON.parse(encodePeerMembers([A, B])), { 'x-etcd-cluster-id': '2a' });
    assert.equal(decoded.clusterId, 42);
    assert.deepEqual(decoded.members.map((m) => [m.id, m.name, m.isLearner === true]), [[0x1a, 'b', true], [0x9f, 'a', false]]);
  });

  it('reads the object kvd 0.3 answered, so that a newer member joins an older cluster', () => {
    const decoded = decodePeerMembers({ clusterId: 42, members: [A] }, {});
    assert.deepEqual(decoded, { clusterId: 42, members: [A] });
  });

  it('refuses an array without a cluster id, and anything else', () => {
    assert.throws(() => decodePeerMembers([], {}), /X-Etcd-Cluster-Id/);
    assert.throws(() => decodePeerMembers({ members: 'x' }, {}), /not a member list/);
    assert.throws(() => decodePeerMembers([{ id: 'x' }], { 'x-etcd-cluster-id': '2a' }));
  });
});
