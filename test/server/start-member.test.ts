import assert from 'node:assert/strict';
import { ClassicLevel } from 'classic-level';
import type { KeysCommand } from '../../src/server/keys-command.ts';
import { encodeJson, record } from '../../src/storage/codec.ts';
import { entryKey } from '../../src/storage/log-store.ts';
import { encodeEntry, KEY_VERSION } from '../../src/storage/migration.ts';
import { KEY_SNAPSHOT_META } from '../../src/storage/snapshot-layout.ts';
import { encodeHardState, KEY_HARD_STATE, KEY_MEMBERSHIP } from '../../src/storage/stable-store.ts';
import { PERMANENT } from '../../src/store/node.ts';
import { snapshotChunks } from '../../src/store/snapshot.ts';
import { Store } from '../../src/store/store.ts';
import { soloMemberPerTest, startSoloMember } from '../helpers/solo-member.ts';

const T0 = Date.UTC(2026, 10, 30, 9, 0, 0);
const ID = 0x5eed;
const PEER_URL = 'http://127.0.0.1:2';
const membership = { clusterId: 0xc1, members: [{ id: ID, name: 'solo', peerURLs: [PEER_URL], clientURLs: [] }], selfId: ID };
const PUT: KeysCommand = { method: 'PUT', key: '/a/b', value: 'new', dir: false, prevValue: '', prevIndex: 0, recursive: false, sorted: false, refresh: false, expireTime: 0, now: T0 };

/**
 * A single member's data dir as kvd 0.1 left it, in LevelDB: format version 1, the log one entry
 * per row (entries 4 and 5, behind the snapshot at 5), the snapshot one blob of `store` in chunks.
 */
async function kvd01DataDir(dir: string, store: Store): Promise<void> {
  const blob = Buffer.from([JSON.stringify(membership), JSON.stringify([]), ...snapshotChunks(store)].join('\n'), 'utf8');
  const db = new ClassicLevel<Buffer, Buffer>(dir, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
  await db.open();
  try {
    const half = Math.ceil(blob.length / 2);
    await db.batch([
      { type: 'put', key: KEY_VERSION, value: encodeJson(1) },
      { type: 'put', key: KEY_HARD_STATE, value: encodeHardState({ term: 1, vote: ID, commit: 5 }) },
      { type: 'put', key: KEY_MEMBERSHIP, value: encodeJson(membership) },
      ...[4, 5].map((index) => ({ type: 'put' as const, key: entryKey(index), value: encodeEntry({ index, term: 1, type: 'normal', data: new Uint8Array(0) }) })),
      { type: 'put', key: Buffer.from([0x73, 0, 0, 0, 0]), value: record(blob.subarray(0, half)) },
      { type: 'put', key: Buffer.from([0x73, 0, 0, 0, 1]), value: record(blob.subarray(half)) },
      { type: 'put', key: KEY_SNAPSHOT_META, value: encodeJson({ index: 5, term: 1, confState: { voters: [ID], learners: [] }, chunks: 2, size: blob.length }) },
    ], { sync: true });
  } finally {
    await db.close();
  }
}

/** The first byte of every key in the data dir, as letters ("s" a version 1 chunk, "r" an image row). */
async function keyKinds(dir: string): Promise<string> {
  const db = new ClassicLevel<Buffer, Buffer>(dir, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
  await db.open();
  try {
    const kinds = new Set<string>();
    for await (const key of db.keys()) kinds.add(String.fromCharCode(key[0]!));
    return [...kinds].sort().join('');
  } finally {
    await db.close();
  }
}

describe('startMember on a kvd 0.1 data dir', () => {
  const solo = soloMemberPerTest('kvd-start-member-');

  it('the blob snapshot is upgraded to an image as the dir opens; the member serves its keys and goes on from its index', async () => {
    const store = new Store();
    store.set('/a/b', false, 'from 0.1', { expireTime: PERMANENT }, T0);
    store.set('/a/c', false, 'too', { expireTime: PERMANENT }, T0);
    await kvd01DataDir(solo.dir(), store);
    const { member, fatal, lines } = solo.keep(await startSoloMember(solo.dir(), 'start-member-test', PEER_URL));
    assert.deepEqual(member.store.get('/a/b', false, false, T0).node, store.get('/a/b', false, false, T0).node);
    assert.match(lines.join('\n'), /snapshot loaded.*index=5/);
    const put = await member.proposeKeys(PUT);
    assert.equal(put.event.prevNode?.value, 'from 0.1');
    await solo.stop();
    assert.deepEqual(fatal, [], 'no fail-stop');
    assert.equal(await keyKinds(solo.dir()), 'cehmrv', 'no version 1 chunk ("s") is left: the snapshot is an image ("r")');
  });
});
