import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ClassicLevel } from 'classic-level';
import { decodeConfChange } from '../../src/raft/raft.ts';
import { RawNode } from '../../src/raft/raw-node.ts';
import { seededRandom } from '../../src/raft/rand.ts';
import type { Entry } from '../../src/raft/types.ts';
import { SnapshotTemporarilyUnavailableError } from '../../src/raft/errors.ts';
import { decodeJson, encodeJson, openRecord, record } from '../../src/storage/codec.ts';
import { entryKey } from '../../src/storage/log-store.ts';
import { encodeEntry, KEY_VERSION } from '../../src/storage/migration.ts';
import { imageDeltaKey, KEY_SNAPSHOT_META } from '../../src/storage/snapshot-layout.ts';
import { KEY_HARD_STATE } from '../../src/storage/stable-store.ts';
import type { OpenOptions } from '../../src/storage/disk-storage.ts';
import { DiskStorage } from '../../src/storage/disk-storage.ts';
import { DataDirError, StorageFailedError } from '../../src/storage/errors.ts';
import { MemoryBackend } from '../../src/storage/memory-backend.ts';
import type { ImageRecord } from '../../src/storage/image.ts';
import { decodeImage, encodeImage } from '../../src/storage/image.ts';

const text = (s: string) => new TextEncoder().encode(s);
const entry = (index: number, term: number, data = `e${index}`): Entry => ({ index, term, type: 'normal', data: text(data) });
const decodeJsonRecord = (value: Buffer | undefined) => decodeJson<unknown>(openRecord(value!)!);
const range = (from: number, to: number, term: number) => Array.from({ length: to - from + 1 }, (_, i) => entry(from + i, term));

/** The rows of a data dir, edited behind the storage's back (to make old formats and damage). */
interface RawDb {
  get(key: Buffer): Promise<Buffer | undefined>;
  put(key: Buffer, value: Buffer): Promise<void>;
  del(key: Buffer): Promise<void>;
  keys(): AsyncIterable<Buffer>;
  clear(range: { gte: Buffer; lt: Buffer }): Promise<void>;
}

/** Where a DiskStorage keeps its data: a LevelDB data dir, or a MemoryBackend. */
interface Medium {
  /** What the storage's messages call it. */
  readonly label: string;
  /** Opens the storage again (after the last one was closed): a member's restart. */
  open(options?: OpenOptions): Promise<DiskStorage>;
  raw(edit: (db: RawDb) => Promise<void>): Promise<void>;
  remove(): Promise<void>;
}

async function levelDbMedium(): Promise<Medium> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'kvd-test-storage-'));
  return {
    label: dir,
    open: (options) => DiskStorage.open(dir, options),
    raw: async (edit) => {
      const db = new ClassicLevel<Buffer, Buffer>(dir, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
      await db.open();
      try {
        await edit(db);
      } finally {
        await db.close();
      }
    },
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

let memoryMedia = 0;
function memoryMedium(): Promise<Medium> {
  let backend = new MemoryBackend();
  const label = `memory-${++memoryMedia}`;
  return Promise.resolve({
    label,
    open: (options) => DiskStorage.openOn((backend = backend.reopen()), label, options),
    raw: async (edit) => {
      backend = backend.reopen();
      const db = backend;
      await edit({
        get: (key) => db.get(key),
        put: (key, value) => db.batch([{ type: 'put', key, value }], { sync: true }),
        del: (key) => db.batch([{ type: 'del', key }], { sync: true }),
        keys: async function* () {
          for await (const [key] of db.scan({})) yield key;
        },
        clear: (range) => db.clear(range),
      });
    },
    remove: () => Promise.resolve(),
  });
}

/** Replaces the log with version 1 and 2 rows: one entry each. */
async function writeEntryPerRow(db: RawDb, entries: Entry[]): Promise<void> {
  await db.clear({ gte: entryKey(0), lt: entryKey(Number.MAX_SAFE_INTEGER) });
  for (const entry of entries) await db.put(entryKey(entry.index), encodeEntry(entry));
}

for (const [name, makeMedium] of [['classic-level', levelDbMedium], ['MemoryBackend', memoryMedium]] as const) describe(`DiskStorage (${name})`, () => {
  let disk: Medium;
  beforeEach(async () => {
    disk = await makeMedium();
  });
  afterEach(() => disk.remove());

  /** How many log rows the data dir has. */
  async function entryKeyCount(): Promise<number> {
    let count = 0;
    await disk.raw(async (db) => {
      for await (const key of db.keys()) if (key[0] === 0x65) count++;
    });
    return count;
  }

  it('a new data dir opens empty and records its format version', async () => {
    const storage = await disk.open();
    assert.deepEqual([storage.firstIndex(), storage.lastIndex()], [1, 0]);
    assert.deepEqual(storage.initialState().hardState, { term: 0, vote: 0, commit: 0 });
    await storage.close();
  });

  it('round-trips entries, the hard state and the membership across a reopen', async () => {
    const storage = await disk.open();
    await storage.persist({ entries: range(1, 5, 1), hardState: { term: 1, vote: 2, commit: 4 }, membership: { members: [{ id: 1, name: 'a' }] }, sync: true });
    await storage.close();
    const reopened = await disk.open();
    assert.deepEqual(reopened.initialState().hardState, { term: 1, vote: 2, commit: 4 });
    assert.deepEqual(reopened.entries(1, 6, Infinity), range(1, 5, 1));
    assert.deepEqual(reopened.membership, { members: [{ id: 1, name: 'a' }] });
    assert.equal(reopened.term(5), 1);
    await reopened.close();
  });

  it('entries that a new leader replaced are removed from disk', async () => {
    const storage = await disk.open();
    await storage.persist({ entries: range(1, 5, 1), hardState: { term: 1, vote: 1, commit: 0 }, sync: true });
    await storage.persist({ entries: [entry(3, 2, 'new3'), entry(4, 2, 'new4')], sync: true });
    assert.equal(storage.lastIndex(), 4);
    await storage.close();
    const reopened = await disk.open();
    assert.equal(reopened.lastIndex(), 4);
    assert.deepEqual(reopened.entries(3, 5, Infinity), [entry(3, 2, 'new3'), entry(4, 2, 'new4')]);
    await reopened.close();
  });

  it('reads a version 2 log (one entry per row) and rewrites it as one row, with the version, at once', async () => {
    const storage = await disk.open();
    await storage.persist({ entries: [], hardState: { term: 2, vote: 1, commit: 6 }, sync: true });
    await storage.close();
    const old = [...range(1, 4, 1), ...range(5, 7, 2)];
    await disk.raw(async (db) => {
      await db.put(KEY_VERSION, encodeJson(2));
      await writeEntryPerRow(db, old);
    });
    const reopened = await disk.open();
    assert.deepEqual(reopened.entries(1, 8, Infinity), old);
    await reopened.persist({ entries: [entry(7, 3, 'new7'), entry(8, 3)], sync: true });
    await reopened.close();
    assert.equal(await entryKeyCount(), 2, 'one row for the old log, one for the new entries');
    await disk.raw(async (db) => assert.equal(decodeJsonRecord(await db.get(KEY_VERSION)), 3));
    const again = await disk.open();
    assert.deepEqual(again.entries(1, 9, Infinity), [...old.slice(0, 6), entry(7, 3, 'new7'), entry(8, 3)]);
    await again.close();
  });

  it('the log on disk is the log in memory through appends, replaced entries, compactions and reopens (seeded)', async function () {
    this.timeout(60_000);
    for (let seed = 1; seed <= 12; seed++) {
      const random = seededRandom(seed);
      const pick = (n: number) => Math.floor(random() * n);
      const seedDisk = await makeMedium();
      try {
        let storage = await seedDisk.open();
        /** What the log holds: entries by index, from `first`. */
        let model: Entry[] = [];
        let first = 1;
        let term = 1;
        for (let step = 0; step < 60; step++) {
          const roll = random();
          const last = first + model.length - 1;
          if (roll < 0.7 || model.length < 3) {
            // Append, sometimes replacing a tail (never below the snapshot).
            const snapshotIndex = storage.snapshot().meta.index;
            const from = random() < 0.25 && last > snapshotIndex ? snapshotIndex + 1 + pick(last - snapshotIndex) : last + 1;
            if (from <= last) term++;
            const added = Array.from({ length: 1 + pick(6) }, (_, i) => entry(from + i, term, `s${seed}-${step}-${i}`));
            await storage.persist({ entries: added, hardState: { term, vote: 1, commit: 0 }, sync: random() < 0.5 });
            model = [...model.slice(0, from - first), ...added];
          } else if (roll < 0.85) {
            // A snapshot, then compaction a little below it.
            const at = first + pick(model.length);
            if (at > storage.snapshot().meta.index) {
              await saveBase(storage, at, `h${at}`, []);
              const upTo = Math.max(first, at - pick(4));
              await storage.compact(upTo);
              model = model.slice(upTo + 1 - first);
              first = upTo + 1;
            }
          } else {
            await storage.close();
            storage = await seedDisk.open();
            // A restart loads whole rows: perhaps entries from before the compaction point, or,
            // when a row was cut at it, one entry less (the first becomes the boundary); never
            // one the snapshot does not hold.
            const reopenedFirst = storage.firstIndex();
            assert.ok(reopenedFirst <= first + 1 && reopenedFirst <= storage.snapshot().meta.index + 1, `seed ${seed} step ${step}: first index ${reopenedFirst}, was ${first}`);
            if (reopenedFirst > first) {
              model = model.slice(reopenedFirst - first);
              first = reopenedFirst;
            }
          }
          const expected = model.length === 0 ? [] : model;
          const got = model.length === 0 ? [] : storage.entries(first, first + model.length, Infinity);
          assert.deepEqual(got, expected, `seed ${seed} step ${step}`);
          assert.equal(storage.lastIndex(), first + model.length - 1, `seed ${seed} step ${step}: last index`);
        }
        await storage.close();
      } finally {
        await seedDisk.remove();
      }
    }
  });

  const conf = { voters: [1], learners: [] };
  const rec = (key: string, value: string): ImageRecord => [text(key), text(value)];
  /** Saves a new base of `records` at `index`. */
  async function saveBase(storage: DiskStorage, index: number, head: string, records: ImageRecord[], during?: ImageRecord[]): Promise<void> {
    const base = await storage.beginBase();
    await base.add(records);
    await base.save(index, conf, { head: text(head), puts: during ?? [], removed: [] });
  }
  /** The stored snapshot as strings: [head, [key, value]...]. */
  async function loaded(storage: DiskStorage): Promise<[string, Array<[string, string]>]> {
    const snapshot = await storage.loadSnapshot();
    assert.equal(snapshot.kind, 'image');
    if (snapshot.kind !== 'image') throw new Error('unreachable');
    const records: Array<[string, string]> = [];
    for await (const batch of snapshot.records) for (const [key, value] of batch) records.push([decode(key), decode(value)]);
    return [decode(snapshot.head), records];
  }
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  async function imageKeys(): Promise<string[]> {
    const keys: string[] = [];
    await disk.raw(async (db) => {
      for await (const key of db.keys()) {
        if (key[0] === 0x73) keys.push(`s:${key.subarray(1).toString('hex')}`);
        if (key[0] === 0x72) keys.push(`r${key[1]}:${String.fromCharCode(key[2]!)}${key.length === 7 ? key.readUInt32BE(3) : ''}`);
      }
    });
    return keys;
  }

  it('a snapshot is an image of one row per record; compaction keeps a tail and bounds the disk', async () => {
    const storage = await disk.open();
    for (let from = 1; from <= 2000; from += 100) await storage.persist({ entries: range(from, from + 99, 1), hardState: { term: 1, vote: 1, commit: from + 99 }, sync: true });
    assert.equal(storage.takesImageChanges, false, 'the first snapshot must be a full image');
    await saveBase(storage, 1900, 'head-1900', [rec('/a', '1'), rec('/b', '2')]);
    await storage.compact(1801);
    assert.equal(storage.firstIndex(), 1802);
    assert.equal(storage.takesImageChanges, true);
    await storage.compact(1850);
    await storage.close();
    assert.equal(await entryKeyCount(), 2, 'the rows from 1801 (the boundary) and 1901: a row goes once compaction passes its end');
    const reopened = await disk.open();
    assert.deepEqual([reopened.firstIndex(), reopened.lastIndex()], [1802, 2000], 'the rows are loaded whole');
    assert.equal(reopened.term(1801), 1);
    assert.deepEqual(reopened.snapshot().meta, { index: 1900, term: 1, confState: conf });
    assert.deepEqual(await loaded(reopened), ['head-1900', [['/a', '1'], ['/b', '2']]]);
    // What a follower is sent: the same image, on the wire.
    const image = decodeImage(await reopened.snapshotImage(1900));
    assert.deepEqual([decode(image.head), [...image.records].map(([k, v]) => [decode(k), decode(v)])], ['head-1900', [['/a', '1'], ['/b', '2']]]);
    await assert.rejects(reopened.snapshotImage(1800), SnapshotTemporarilyUnavailableError, 'a snapshot that is no longer the current one');
    await reopened.close();
  });

  it('changes are deltas over the base, applied in order; a full image is a new base in the other slot', async () => {
    const storage = await disk.open();
    await storage.persist({ entries: range(1, 40, 1), hardState: { term: 1, vote: 1, commit: 40 }, sync: true });
    await saveBase(storage, 10, 'h10', [rec('/a', '1'), rec('/b', '2'), rec('/c', '3')]);
    await storage.saveSnapshot(20, conf, { head: text('h20'), puts: [rec('/c', '3b'), rec('/e', '5'), rec('/d', '4')], removed: [text('/b')] });
    await storage.saveSnapshot(30, conf, { head: text('h30'), puts: [rec('/b', '2c'), rec('/e', '5c')], removed: [text('/a'), text('/d')] });
    const shape = storage.imageShape;
    assert.deepEqual([shape.pages, shape.deltas], [1, 2]);
    assert.ok(shape.deltaBytes > 0 && shape.baseBytes > 0);
    await storage.close();
    assert.deepEqual(await imageKeys(), ['r0:b0', 'r0:d0', 'r0:d1', 'r0:h'], 'the base, two deltas and the head, all in slot 0');
    const reopened = await disk.open();
    assert.equal(reopened.snapshot().meta.index, 30);
    assert.deepEqual(reopened.imageShape, shape);
    // The base's keys in its order (later deltas win, removals drop), then the deltas' new keys in key order.
    assert.deepEqual(await loaded(reopened), ['h30', [['/b', '2c'], ['/c', '3b'], ['/e', '5c']]]);
    // A base with what changed while it was being written as its first delta.
    await saveBase(reopened, 40, 'h40', [rec('/z', '26')], [rec('/z', '27'), rec('/y', '25')]);
    await reopened.close();
    assert.deepEqual(await imageKeys(), ['r1:b0', 'r1:d0', 'r1:h']);
    const again = await disk.open();
    assert.deepEqual(await loaded(again), ['h40', [['/z', '27'], ['/y', '25']]]);
    assert.deepEqual(again.imageShape.deltas, 1);
    await again.close();
  });

  it('a base larger than a page is written in pages and read back in order', async () => {
    const storage = await disk.open();
    await storage.persist({ entries: range(1, 10, 1), hardState: { term: 1, vote: 1, commit: 10 }, sync: true });
    const records = Array.from({ length: 3000 }, (_, i) => rec(`/k${String(i).padStart(5, '0')}`, 'v'.repeat(1000)));
    await saveBase(storage, 5, 'h', records);
    assert.equal(storage.imageShape.pages, 3);
    const [, got] = await loaded(storage);
    assert.deepEqual(got.map(([k]) => k), records.map(([k]) => decode(k)));
    await storage.close();
  });

  /** The key of a version 1 snapshot chunk (kvd 0.1): "s", u8 slot (none before slots), u32be chunk number. */
  const chunkKey = (chunk: number, slot: number | undefined): Buffer => Buffer.from([0x73, ...(slot === undefined ? [] : [slot]), 0, 0, 0, chunk]);

  for (const slot of [undefined, 1]) {
    it(`upgrades a version 1 snapshot (a blob in chunks, ${slot === undefined ? 'slot-less keys' : 'slotted keys'}) to an image as it opens the dir, with the converter it is given`, async () => {
      const storage = await disk.open();
      await storage.persist({ entries: range(1, 5, 1), hardState: { term: 1, vote: 1, commit: 5 }, sync: true });
      await storage.close();
      await disk.raw(async (db) => {
        await db.put(KEY_VERSION, encodeJson(1));
        await writeEntryPerRow(db, range(1, 5, 1));
        await db.put(chunkKey(0, slot), record(Buffer.from('leg')));
        await db.put(chunkKey(1, slot), record(Buffer.from('acy')));
        await db.put(KEY_SNAPSHOT_META, encodeJson({ index: 3, term: 1, confState: conf, chunks: 2, size: 6, ...(slot === undefined ? {} : { slot }) }));
      });
      const reopened = await disk.open({ upgradeBlob: (blob) => ({ head: text(`head of ${decode(blob)}`), records: [rec('/k', decode(blob))] }) });
      assert.equal(reopened.takesImageChanges, true, 'the snapshot is an image at once');
      assert.deepEqual(await loaded(reopened), ['head of legacy', [['/k', 'legacy']]]);
      await reopened.close();
      assert.deepEqual(await imageKeys(), ['r0:b0', 'r0:h'], 'the chunks are gone');
      assert.equal(await entryKeyCount(), 1, 'the log is one row');
      await disk.raw(async (db) => assert.equal(decodeJsonRecord(await db.get(KEY_VERSION)), 3, 'the data dir now says version 3'));
      const again = await disk.open();
      assert.deepEqual(again.snapshot().meta, { index: 3, term: 1, confState: conf });
      assert.deepEqual(again.entries(4, 6, Infinity), range(4, 5, 1));
      assert.deepEqual(await loaded(again), ['head of legacy', [['/k', 'legacy']]]);
      await again.close();
    });
  }

  it('a flipped byte in an image row is refused when the image is loaded, naming the row', async () => {
    const storage = await disk.open();
    await storage.persist({ entries: range(1, 10, 1), hardState: { term: 1, vote: 1, commit: 10 }, sync: true });
    await saveBase(storage, 5, 'h', [rec('/a', '1'), rec('/b', '2')]);
    await storage.saveSnapshot(6, conf, { head: text('h6'), puts: [rec('/b', '3')], removed: [] });
    await storage.close();
    await disk.raw(async (db) => {
      const value = (await db.get(imageDeltaKey(0, 0)))!;
      value[value.length - 1]! ^= 0xff;
      await db.put(imageDeltaKey(0, 0), value);
    });
    const reopened = await disk.open();
    await assert.rejects(loaded(reopened), (error: unknown) => error instanceof DataDirError && /snapshot image delta 0 fails its checksum/.test(error.message));
    await reopened.close();
  });

  it('a commit index on disk behind the snapshot (written after it, or not yet) starts at the snapshot\'s index', async () => {
    const storage = await disk.open();
    await storage.persist({ entries: range(1, 10, 1), hardState: { term: 1, vote: 1, commit: 4 }, sync: true });
    await saveBase(storage, 5, 'h', [rec('/a', '1')]);
    await storage.close();
    const reopened = await disk.open();
    assert.deepEqual(reopened.initialState().hardState, { term: 1, vote: 1, commit: 5 });
    const node = new RawNode({ id: 1, electionTick: 10, heartbeatTick: 1, storage: reopened, applied: 5, maxSizePerMsg: 1 << 20, maxInflightMsgs: 16, checkQuorum: false, preVote: false, random: seededRandom(1) });
    assert.equal(node.basicStatus().commit, 5);
    await reopened.close();
  });

  it('a snapshot from the leader replaces the log and the image', async () => {
    const storage = await disk.open();
    await storage.persist({ entries: range(1, 10, 1), sync: true });
    await saveBase(storage, 5, 'mine', [rec('/old', 'x')]);
    const data = encodeImage(text('leader'), [rec('/x', '1'), rec('/y', '2')]);
    const snapshot = { meta: { index: 50, term: 3, confState: { voters: [1, 2, 3], learners: [] } }, data };
    await storage.persist({ snapshot, entries: [entry(51, 3)], hardState: { term: 3, vote: 0, commit: 50 }, sync: true });
    assert.equal(storage.snapshot().data.length, 0, 'the data is not kept in memory');
    await storage.close();
    assert.equal(await entryKeyCount(), 1);
    assert.deepEqual(await imageKeys(), ['r1:b0', 'r1:h']);
    const reopened = await disk.open();
    assert.deepEqual([reopened.firstIndex(), reopened.lastIndex(), reopened.term(50)], [51, 51, 3]);
    assert.deepEqual(reopened.initialState().confState, { voters: [1, 2, 3], learners: [] });
    assert.deepEqual(await loaded(reopened), ['leader', [['/x', '1'], ['/y', '2']]]);
    await reopened.close();
  });

  describe('refuses a data dir it cannot trust, naming the dir and the problem', () => {
    /** Rows from 1, 4 and 7. */
    async function populated(): Promise<void> {
      const storage = await disk.open();
      await storage.persist({ entries: range(1, 3, 1), sync: true });
      await storage.persist({ entries: range(4, 6, 1), sync: true });
      await storage.persist({ entries: range(7, 10, 1), hardState: { term: 1, vote: 1, commit: 8 }, sync: true });
      await storage.close();
    }
    const refused = async (pattern: RegExp) =>
      assert.rejects(disk.open(), (error: unknown) => {
        assert.ok(error instanceof DataDirError, String(error));
        assert.ok(error.message.startsWith(`data dir ${disk.label}: `), error.message);
        assert.match(error.message, pattern);
        return true;
      });

    it('a flipped byte in a log row', async () => {
      await populated();
      await disk.raw(async (db) => {
        const value = (await db.get(entryKey(4)))!;
        value[value.length - 1]! ^= 0xff;
        await db.put(entryKey(4), value);
      });
      await refused(/the log row from entry 4 fails its checksum/);
    });

    it('a log row under the wrong key', async () => {
      await populated();
      await disk.raw(async (db) => {
        await db.put(entryKey(5), (await db.get(entryKey(4)))!);
        await db.del(entryKey(4));
      });
      await refused(/the log row from entry 5 is stored under the wrong key \(it says 4\)/);
    });

    it('a missing log row', async () => {
      await populated();
      await disk.raw((db) => db.del(entryKey(4)));
      await refused(/the log has a gap: entries 4 to 6 are missing/);
    });

    it('a damaged hard state', async () => {
      await populated();
      await disk.raw(async (db) => {
        const value = (await db.get(KEY_HARD_STATE))!;
        value[5]! ^= 1;
        await db.put(KEY_HARD_STATE, value);
      });
      await refused(/the hard state record fails its checksum/);
    });

    it('a log without a hard state', async () => {
      await populated();
      await disk.raw((db) => db.del(KEY_HARD_STATE));
      await refused(/the log reaches index 10, but the hard state record is missing/);
    });

    it('an unknown format version', async () => {
      await populated();
      await disk.raw((db) => db.put(KEY_VERSION, encodeJson(4)));
      await refused(/has format version 4; this kvd reads versions 1, 2, 3/);
    });

    it('a LevelDB that is not a kvd data dir', async () => {
      await disk.raw((db) => db.put(Buffer.from('foo'), Buffer.from('bar')));
      await refused(/not a kvd data dir/);
    });

    if (name === 'classic-level') it('a data dir locked by a running member', async () => {
      const first = await disk.open();
      try {
        await refused(/in use by another running member/);
      } finally {
        await first.close();
      }
    });
  });

  it('a hard state that commits past the log (entries it acknowledged are lost): the commit is clamped for Raft and kept on disk until Raft commits it again', async () => {
    const storage = await disk.open();
    await storage.persist({ entries: range(1, 6, 1), hardState: { term: 1, vote: 1, commit: 5 }, sync: true });
    await storage.persist({ entries: range(7, 8, 1), hardState: { term: 1, vote: 1, commit: 8 }, sync: true });
    await storage.close();
    await disk.raw((db) => db.del(entryKey(7)));
    const damaged = await disk.open();
    assert.equal(damaged.catchUpTo, 8);
    assert.deepEqual(damaged.initialState().hardState, { term: 1, vote: 1, commit: 6 });
    // Catching up: commit 7 is still short of what was lost, so the disk keeps 8.
    await damaged.persist({ entries: [entry(7, 1)], hardState: { term: 2, vote: 0, commit: 7 }, sync: true });
    assert.deepEqual(damaged.initialState().hardState, { term: 2, vote: 0, commit: 7 });
    await damaged.close();
    const stillBehind = await disk.open();
    assert.equal(stillBehind.catchUpTo, 8, 'a restart while catching up still knows what was lost');
    await stillBehind.persist({ entries: [entry(8, 2)], hardState: { term: 2, vote: 0, commit: 8 }, sync: true });
    await stillBehind.close();
    const caughtUp = await disk.open();
    assert.equal(caughtUp.catchUpTo, 0);
    assert.deepEqual(caughtUp.initialState().hardState, { term: 2, vote: 0, commit: 8 });
    await caughtUp.close();
  });

  it('after a failed write it refuses every later write (never acknowledges what is not on disk)', async () => {
    const storage = await disk.open();
    await storage.persist({ entries: range(1, 2, 1), sync: true });
    await storage.close();
    await assert.rejects(storage.persist({ entries: [entry(3, 1)], sync: true }), StorageFailedError);
    await assert.rejects(storage.persist({ entries: [], hardState: { term: 1, vote: 0, commit: 0 }, sync: true }), /accepts no more writes/);
    assert.equal(storage.lastIndex(), 2, 'the failed entries were not taken into the log');
  });

  it('concurrent writes are grouped into few batches, in order', async () => {
    const storage = await disk.open();
    await Promise.all(Array.from({ length: 200 }, (_, i) => storage.persist({ entries: [entry(i + 1, 1)], hardState: { term: 1, vote: 1, commit: i }, sync: true })));
    assert.equal(storage.lastIndex(), 200);
    assert.ok(storage.writeStats.syncs < 50, `${storage.writeStats.syncs} syncs for 200 writes`);
    await storage.close();
    const reopened = await disk.open();
    assert.deepEqual(reopened.entries(1, 201, Infinity), range(1, 200, 1));
    await reopened.close();
  });

  it('a Raft member on it resumes exactly where it durably was', async () => {
    const runMember = async (propose: string[]) => {
      const storage = await disk.open();
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
