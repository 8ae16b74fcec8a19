import assert from 'node:assert/strict';
import { PeerRemotes } from '../../src/server/peer-remotes.ts';

describe('PeerRemotes: senders that are not members yet (etcd X-PeerURLs)', () => {
  it('admits a member whatever its URLs', () => {
    assert.equal(new PeerRemotes().admit(1, undefined, true, false), true);
  });

  it('admits a sender that is neither member nor removed and gives dialable peer URLs, and remembers them to answer it', () => {
    const remotes = new PeerRemotes();
    assert.equal(remotes.admit(7, ['http://127.0.0.1:2380'], false, false), true);
    assert.deepEqual(remotes.urlsOf(7), ['http://127.0.0.1:2380']);
  });

  it('refuses a removed sender, and one without URLs or with URLs that cannot be dialled', () => {
    const remotes = new PeerRemotes();
    assert.equal(remotes.admit(7, ['http://127.0.0.1:2380'], false, true), false);
    assert.equal(remotes.admit(8, [], false, false), false);
    assert.equal(remotes.admit(9, ['file:///etc/passwd'], false, false), false);
    assert.equal(remotes.admit(10, ['not a url'], false, false), false);
    for (const id of [7, 8, 9, 10]) assert.equal(remotes.urlsOf(id), undefined);
  });

  it('remembers at most 16 senders, the oldest going first', () => {
    const remotes = new PeerRemotes();
    for (let id = 1; id <= 17; id++) remotes.admit(id, [`http://10.0.0.${id}:2380`], false, false);
    assert.equal(remotes.urlsOf(1), undefined);
    assert.deepEqual(remotes.urlsOf(17), ['http://10.0.0.17:2380']);
  });
});
