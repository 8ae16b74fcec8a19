import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ClassicLevel } from 'classic-level';
import { decodeConfChange } from '../../src/raft/raft.ts';
import { RawNode } from '../../src/raft/raw-node.ts';
import { seededRandom } from '../../src/raft/rand.ts';
import type { Entry } from '../../src/raft/types.ts';
import { chunkKey, encodeJson, entryKey, KEY_HARD_STATE, KEY_SNAPSHOT_META, KEY_VERSION, record } from '../../src/storage/codec.ts';
import { DiskStorage } from '../../src/storage/disk-storage.ts';
import { DataDirError, StorageFailedError } from '../../src/storage/errors.ts';

const text = (s: string) => new TextEncoder().encode(s);
const entry = (index: number, term: number, data = `e${index}`): Entry => ({ index, term, type: 'normal', data: text(data) });
const range = (from: number, to: number, term: number) => Array.from({ length: to - from + 1 }, (_, i) => entry(from + i, term));

async function rawDb(dir: string, edit: (db: ClassicLevel<Buffer, Buffer>) => Promise<void>): Promise<void> {
  const db = new ClassicLevel<Buffer, Buffer>(dir, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
  await db.open();
  try {
    await edit(db);
  } finally {
    await db.close();
  }
}

async function entryKeyCount(dir: string): Promise<number> {
  let count = 0;
  await rawDb(dir, async (db) => {
    for await (const key of db.keys()) if (key[0] === 0x65) count++;
  });
  return count;
}

describe('DiskStorage (classic-level)', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'kvd-test-storage-'));
  });
  afterEach(async () => rm(dir, { recursive: true, force: true }));

  it('a new data dir opens empty and records its format version', async () => {
    const storage = await DiskStorage.open(dir);
    assert.deepEqual([storage.firstIndex(), storage.lastIndex()], [1, 0]);
    assert.deepEqual(storage.initialState().hardState, { term: 0, vote: 0, commit: 0 });
    await storage.close();
  });

  it('round-trips entries, the hard state and the membership across a reopen', async () => {
    const storage = await DiskStorage.open(dir);
    await storage.persist({ entries: range(1, 5, 1), hardState: { term: 1, vote: 2, commit: 4 }, membership: { members: [{ id: 1, name: 'a' }] }, sync: true });
    await storage.close();
    const reopened = await DiskStorage.open(dir);
    assert.deepEqual(reopened.initialState().hardState, { term: 1, vote: 2, commit: 4 });
    assert.deepEqual(reopened.entries(1, 6, Infinity), range(1, 5, 1));
    assert.deepEqual(reopened.membership, { members: [{ id: 1, name: 'a' }] });
    assert.equal(reopened.term(5), 1);
    await reopened.close();
  });

  it('entries that a new leader replaced are removed from disk', async () => {
    const storage = await DiskStorage.open(dir);
    await storage.persist({ entries: range(1, 5, 1), sync: true });
    await storage.persist({ entries: [entry(3, 2, 'new3'), entry(4, 2, 'new4')], sync: true });
    assert.equal(storage.lastIndex(), 4);
    await storage.close();
    const reopened = await DiskStorage.open(dir);
    assert.equal(reopened.lastIndex(), 4);
    assert.deepEqual(reopened.entries(3, 5, Infinity), [entry(3, 2, 'new3'), entry(4, 2, 'new4')]);
    await reopened.close();
  });

  it('a snapshot is stored in chunks; compaction keeps a tail and bounds the disk', async () => {
    const storage = await DiskStorage.open(dir, { chunkSize: 1000 });
    await storage.persist({ entries: range(1, 2000, 1), hardState: { term: 1, vote: 1, commit: 2000 }, sync: true });
    const data = new Uint8Array(4500).map((_, i) => i % 251);
    await storage.saveSnapshot(1900, { voters: [1], learners: [] }, data);
    await storage.compact(1800);
    assert.equal(storage.firstIndex(), 1801);
    await storage.close();
    assert.equal(await entryKeyCount(dir), 201, 'entries 1800 (the boundary) to 2000');
    const reopened = await DiskStorage.open(dir, { chunkSize: 1000 });
    assert.deepEqual([reopened.firstIndex(), reopened.lastIndex()], [1801, 2000]);
    assert.equal(reopened.term(1800), 1);
    assert.deepEqual(reopened.snapshot().data, data);
    assert.deepEqual(reopened.snapshot().meta, { index: 1900, term: 1, confState: { voters: [1], learners: [] } });
    // A smaller snapshot later drops the chunks it no longer needs.
    await reopened.saveSnapshot(2000, { voters: [1], learners: [] }, new Uint8Array(10));
    await reopened.close();
    const again = await DiskStorage.open(dir, { chunkSize: 1000 });
    assert.equal(again.snapshot().data.length, 10);
    await again.close();
  });

  it('snapshots alternate between two chunk slots: a new one never overwrites the one in use', async () => {
    const storage = await DiskStorage.open(dir, { chunkSize: 100 });
    await storage.persist({ entries: range(1, 30, 1), hardState: { term: 1, vote: 1, commit: 30 }, sync: true });
    const chunkKeys = async () => {
      const keys: string[] = [];
      await rawDb(dir, async (db) => {
        for await (const key of db.keys()) if (key[0] === 0x73) keys.push(key.toString('hex'));
      });
      return keys;
    };
    const data = (n: number, fill: number) => new Uint8Array(n).fill(fill);
    await storage.saveSnapshot(10, { voters: [1], learners: [] }, data(250, 1));
    await storage.saveSnapshot(20, { voters: [1], learners: [] }, data(120, 2));
    await storage.saveSnapshot(30, { voters: [1], learners: [] }, data(330, 3));
    await storage.close();
    const keys = await chunkKeys();
    assert.equal(keys.length, 4, `only the current snapshot's 4 chunks remain: ${keys.join(' ')}`);
    assert.ok(keys.every((k) => k.startsWith('7300')), 'slots go 0, 1, 0: the third snapshot is in slot 0');
    const reopened = await DiskStorage.open(dir, { chunkSize: 100 });
    assert.deepEqual([reopened.snapshot().meta.index, reopened.snapshot().data.length, reopened.snapshot().data[329]], [30, 330, 3]);
    await reopened.close();
  });

  it('reads a snapshot stored before slots (chunks under slot-less keys)', async () => {
    const storage = await DiskStorage.open(dir);
    await storage.persist({ entries: range(1, 5, 1), hardState: { term: 1, vote: 1, commit: 5 }, sync: true });
    await storage.close();
    await rawDb(dir, async (db) => {
      await db.put(chunkKey(0), record(Buffer.from('legacy')));
      await db.put(KEY_SNAPSHOT_META, encodeJson({ index: 3, term: 1, confState: { voters: [1], learners: [] }, chunks: 1, size: 6 }));
    });
    const reopened = await DiskStorage.open(dir);
    assert.equal(new TextDecoder().decode(reopened.snapshot().data), 'legacy');
    await reopened.saveSnapshot(5, { voters: [1], learners: [] }, text('new'));
    await reopened.close();
    const again = await DiskStorage.open(dir);
    assert.equal(new TextDecoder().decode(again.snapshot().data), 'new');
    await again.close();
  });

  it('a snapshot from the leader replaces the log', async () => {
    const storage = await DiskStorage.open(dir);
    await storage.persist({ entries: range(1, 10, 1), sync: true });
    const snapshot = { meta: { index: 50, term: 3, confState: { voters: [1, 2, 3], learners: [] } }, data: text('state') };
    await storage.persist({ snapshot, entries: [entry(51, 3)], hardState: { term: 3, vote: 0, commit: 50 }, sync: true });
    await storage.close();
    assert.equal(await entryKeyCount(dir), 1);
    const reopened = await DiskStorage.open(dir);
    assert.deepEqual([reopened.firstIndex(), reopened.lastIndex(), reopened.term(50)], [51, 51, 3]);
    assert.deepEqual(reopened.initialState().confState, { voters: [1, 2, 3], learners: [] });
    await reopened.close();
  });

  describe('refuses a data dir it cannot trust, naming the dir and the problem', () => {
    async function populated(): Promise<void> {
      const storage = await DiskStorage.open(dir);
      await storage.persist({ entries: range(1, 10, 1), hardState: { term: 1, vote: 1, commit: 8 }, sync: true });
      await storage.close();
    }
    const refused = async (pattern: RegExp) =>
      assert.rejects(DiskStorage.open(dir), (error: unknown) => {
        assert.ok(error instanceof DataDirError, String(error));
        assert.ok(error.message.startsWith(`data dir ${dir}: `), error.message);
        assert.match(error.message, pattern);
        return true;
      });

    it('a flipped byte in a log entry', async () => {
      await populated();
      await rawDb(dir, async (db) => {
        const value = (await db.get(entryKey(6)))!;
        value[value.length - 1]! ^= 0xff;
        await db.put(entryKey(6), value);
      });
      await refused(/log entry 6 fails its checksum/);
    });

    it('a missing log entry', async () => {
      await populated();
      await rawDb(dir, (db) => db.del(entryKey(4)));
      await refused(/the log has a gap: entries 4 to 4 are missing/);
    });

    it('a damaged hard state', async () => {
      await populated();
      await rawDb(dir, async (db) => {
        const value = (await db.get(KEY_HARD_STATE))!;
        value[5]! ^= 1;
        await db.put(KEY_HARD_STATE, value);
      });
      await refused(/the hard state record fails its checksum/);
    });

    it('a hard state that commits past the log', async () => {
      await populated();
      await rawDb(dir, async (db) => {
        for (let i = 8; i <= 10; i++) await db.del(entryKey(i));
      });
      await refused(/the hard state commits index 8, but the log ends at 7/);
    });

    it('an unknown format version', async () => {
      await populated();
      await rawDb(dir, (db) => db.put(KEY_VERSION, encodeJson(2)));
      await refused(/has format version 2; this kvd reads version 1/);
    });

    it('a LevelDB that is not a kvd data dir', async () => {
      await rawDb(dir, (db) => db.put(Buffer.from('foo'), Buffer.from('bar')));
      await refused(/not a kvd data dir/);
    });

    it('a data dir locked by a running member', async () => {
      const first = await DiskStorage.open(dir);
      try {
        await refused(/in use by another running member/);
      } finally {
        await first.close();
      }
    });
  });

  it('after a failed write it refuses every later write (never acknowledges what is not on disk)', async () => {
    const storage = await DiskStorage.open(dir);
    await storage.persist({ entries: range(1, 2, 1), sync: true });
    await storage.close();
    await assert.rejects(storage.persist({ entries: [entry(3, 1)], sync: true }), StorageFailedError);
    await assert.rejects(storage.persist({ entries: [], hardState: { term: 1, vote: 0, commit: 0 }, sync: true }), /accepts no more writes/);
    assert.equal(storage.lastIndex(), 2, 'the failed entries were not taken into the log');
  });

  it('concurrent writes are grouped into few batches, in order', async () => {
    const storage = await DiskStorage.open(dir);
    await Promise.all(Array.from({ length: 200 }, (_, i) => storage.persist({ entries: [entry(i + 1, 1)], sync: true })));
    assert.equal(storage.lastIndex(), 200);
    assert.ok(storage.writeStats.syncs < 50, `${storage.writeStats.syncs} syncs for 200 writes`);
    await storage.close();
    const reopened = await DiskStorage.open(dir);
    assert.deepEqual(reopened.entries(1, 201, Infinity), range(1, 200, 1));
    await reopened.close();
  });

  it('a Raft member on it resumes exactly where it durably was', async () => {
    const runMember = async (propose: string[]) => {
      const storage = await DiskStorage.open(dir);
      const applied: string[] = [];
      const node = new RawNode({
        id: 1, electionTick: 10, heartbeatTick: 1, storage, maxSizePerMsg: 1 << 20, maxInflightMsgs: 16,
        checkQuorum: false, preVote: false, random: seededRandom(1), peers: [1],
      });
      const drain = async () => {
        while (node.hasReady()) {
          const rd = node.ready();
          await storage.persist({ entries: rd.entries, ...(rd.hardState ? { hardState: rd.hardState } : {}), sync: rd.mustSync });
          for (const e of rd.committedEntries) {
            if (e.type === 'confChange') node.applyConfChange(decodeConfChange(e.data));
            else if (e.data.length > 0) applied.push(new TextDecoder().decode(e.data));
          }
          node.advance(rd);
        }
      };
      await drain();
      node.campaign();
      await drain();
      for (const p of propose) node.propose(text(p));
      await drain();
      const status = node.status();
      await storage.close();
      return { applied, status };
    };
    const first = await runMember(['a', 'b']);
    assert.deepEqual(first.applied, ['a', 'b']);
    const second = await runMember(['c']);
    assert.deepEqual(second.applied, ['a', 'b', 'c'], 'replays the committed log, then goes on');
    assert.ok(second.status.term > first.status.term);
  });
});
