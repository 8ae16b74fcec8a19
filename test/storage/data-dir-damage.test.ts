import assert from 'node:assert/strict';
import { appendFile, chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, truncate, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Entry } from '../../src/raft/types.ts';
import { DiskStorage } from '../../src/storage/disk-storage.ts';
import { INCOMING_SNAPSHOT_FILE } from '../../src/storage/data-dir-check.ts';
import { DataDirError } from '../../src/storage/errors.ts';

// Damage done to the files LevelDB keeps under a data dir (issue 16): a damaged dir is refused
// before anything in it changes; only a write torn by a stop is dropped, and said so.

const entry = (index: number): Entry => ({ index, term: 1, type: 'normal', data: new TextEncoder().encode(`value ${index} `.padEnd(40, '.')) });

/** 500 entries, one synced write each (as a member acknowledges them), left in LevelDB's log. */
async function writeEntries(dir: string, count = 500): Promise<void> {
  const storage = await DiskStorage.open(dir);
  for (let index = 1; index <= count; index++) {
    await storage.persist({ entries: [entry(index)], hardState: { term: 1, vote: 1, commit: index - 1 }, sync: true });
  }
  await storage.close();
}

/** Every file's bytes and modification time, by name. */
async function filesOf(dir: string): Promise<Map<string, { bytes: Buffer; mtimeMs: number }>> {
  const files = new Map<string, { bytes: Buffer; mtimeMs: number }>();
  for (const name of (await readdir(dir)).sort()) {
    const file = path.join(dir, name);
    const info = await stat(file);
    files.set(name, { bytes: info.isFile() ? await readFile(file) : Buffer.alloc(0), mtimeMs: info.mtimeMs });
  }
  return files;
}

async function fileNamed(dir: string, pattern: RegExp): Promise<string> {
  const name = (await readdir(dir)).find((candidate) => pattern.test(candidate));
  assert.ok(name !== undefined, `no file matching ${pattern} in ${dir}`);
  return path.join(dir, name);
}

/** Opening is refused with `pattern`, and the dir is byte for byte what it was. */
async function refusedUntouched(dir: string, pattern: RegExp): Promise<void> {
  const before = await filesOf(dir);
  await assert.rejects(DiskStorage.open(dir), (error: unknown) => {
    assert.ok(error instanceof DataDirError, String(error));
    assert.ok(error.message.startsWith(`data dir ${dir}: `), error.message);
    assert.match(error.message, pattern);
    return true;
  });
  assert.deepEqual(await filesOf(dir), before, 'the refused data dir was changed');
}

describe('a damaged data dir (real LevelDB files)', function () {
  this.timeout(30_000);
  let dir: string;
  beforeEach(async () => {
    dir = path.join(await mkdtemp(path.join(os.tmpdir(), 'kvd-test-damage-')), 'data');
  });
  afterEach(async () => rm(path.dirname(dir), { recursive: true, force: true }));

  describe('is refused before anything in it changes', () => {
    it("without LevelDB's CURRENT file (LevelDB would create a new database over it)", async () => {
      await writeEntries(dir, 50);
      await unlink(path.join(dir, 'CURRENT'));
      await refusedUntouched(dir, /CURRENT file is missing/);
    });

    it('with files LevelDB does not write (not a kvd data dir)', async () => {
      await mkdir(dir);
      await writeFile(path.join(dir, 'notes.txt'), 'mine\n');
      await mkdir(path.join(dir, 'photos'));
      await refusedUntouched(dir, /holds notes\.txt, photos, which LevelDB does not write: it is not a kvd data dir/);
    });

    it("with kvd's files beside foreign ones", async () => {
      await writeEntries(dir, 10);
      await writeFile(path.join(dir, 'README'), 'x');
      await refusedUntouched(dir, /holds README/);
    });

    it("with a byte flipped at the tail of LevelDB's log (LevelDB would drop that block's acknowledged writes)", async () => {
      await writeEntries(dir);
      const log = await fileNamed(dir, /\.log$/);
      const bytes = await readFile(log);
      bytes[bytes.length - 300]! ^= 0x01;
      await writeFile(log, bytes);
      await refusedUntouched(dir, new RegExp(`${path.basename(log)} is damaged: a record that fails its checksum at byte \\d+`));
    });

    it("with a byte flipped in the middle of LevelDB's log", async () => {
      await writeEntries(dir);
      const log = await fileNamed(dir, /\.log$/);
      const bytes = await readFile(log);
      bytes[Math.floor(bytes.length / 2)]! ^= 0x40;
      await writeFile(log, bytes);
      await refusedUntouched(dir, /\.log is damaged: /);
    });

    it("with LevelDB's current log missing (LevelDB replays the logs it finds: its writes were lost without a word)", async () => {
      await writeEntries(dir, 50);
      const log = await fileNamed(dir, /\.log$/);
      await unlink(log);
      await refusedUntouched(dir, new RegExp(`${path.basename(log)}, the log LevelDB's MANIFEST names, is missing`));
    });

    it('with a byte flipped in the MANIFEST', async () => {
      await writeEntries(dir, 50);
      const manifest = await fileNamed(dir, /^MANIFEST-/);
      const bytes = await readFile(manifest);
      bytes[10]! ^= 0x08;
      await writeFile(manifest, bytes);
      await refusedUntouched(dir, /MANIFEST-\d+ is damaged: a record that fails its checksum/);
    });

    it('with a table missing or cut short', async () => {
      await writeEntries(dir, 200);
      // A reopen moves the log into a table.
      await (await DiskStorage.open(dir)).close();
      const table = await fileNamed(dir, /\.ldb$/);
      const { size } = await stat(table);
      await truncate(table, size - 100);
      await refusedUntouched(dir, new RegExp(`the table ${path.basename(table)} has ${size - 100} bytes where LevelDB's MANIFEST says ${size}`));
      await unlink(table);
      await refusedUntouched(dir, new RegExp(`the table ${path.basename(table)} that LevelDB's MANIFEST lists is missing`));
    });
  });

  it('with a byte flipped anywhere in a table (LevelDB reads data blocks without checking them)', async () => {
    await writeEntries(dir, 300);
    await (await DiskStorage.open(dir)).close();
    const table = await fileNamed(dir, /\.ldb$/);
    const original = await readFile(table);
    // Data blocks first, then the filter, metaindex and index blocks, then the footer.
    for (const at of [100, Math.floor(original.length / 2), original.length - 200, original.length - 60, original.length - 5]) {
      const bytes = Buffer.from(original);
      bytes[at]! ^= 0x10;
      await writeFile(table, bytes);
      await refusedUntouched(dir, new RegExp(`the table ${path.basename(table)} is damaged: `));
    }
    await writeFile(table, original);
    await (await DiskStorage.open(dir)).close();
  });

  it("a mount point's lost+found is not foreign: a dir with only that is a new data dir", async () => {
    await mkdir(path.join(dir, 'lost+found'), { recursive: true });
    await writeEntries(dir, 5);
    const storage = await DiskStorage.open(dir);
    assert.equal(storage.lastIndex(), 5);
    await storage.close();
  });

  describe('a write torn by a stop is dropped, and the member says which entries', () => {
    it('the last write cut short: its entries are named and the log ends before them', async () => {
      await writeEntries(dir);
      const log = await fileNamed(dir, /\.log$/);
      await truncate(log, (await stat(log)).size - 10);
      const storage = await DiskStorage.open(dir);
      try {
        assert.equal(storage.lastIndex(), 499);
        assert.equal(storage.warnings.length, 1, storage.warnings.join('\n'));
        assert.match(storage.warnings[0]!, new RegExp(`^data dir ${dir}: ${path.basename(log)} ends in a torn write at byte \\d+ \\(the member stopped during it, so it was never acknowledged\\); it is dropped: log entries from index 500 on, a hard state; the log now ends at index 499$`));
      } finally {
        await storage.close();
      }
    });

    it('a cut deeper into the log: the torn write it ends in is named, and the log ends before it', async () => {
      await writeEntries(dir);
      const log = await fileNamed(dir, /\.log$/);
      await truncate(log, (await stat(log)).size - 1000);
      const storage = await DiskStorage.open(dir);
      try {
        const warning = storage.warnings.join('\n');
        const ends = /ends in a torn write at byte \d+ .*; the log now ends at index (\d+)$/.exec(warning);
        assert.ok(ends !== null, warning);
        assert.equal(storage.lastIndex(), Number(ends[1]));
        assert.ok(storage.lastIndex() < 500);
        // When the torn write's bytes still name its first entry, it is the next one.
        const from = /log entries from index (\d+) on/.exec(warning);
        if (from !== null) assert.equal(Number(from[1]), storage.lastIndex() + 1);
      } finally {
        await storage.close();
      }
    });

    it('a write of several blocks (FIRST, MIDDLE, LAST records) cut in its middle block', async () => {
      await writeEntries(dir, 10);
      const storage = await DiskStorage.open(dir);
      await storage.persist({ entries: [{ ...entry(11), data: new Uint8Array(100_000).fill(7) }], hardState: { term: 1, vote: 1, commit: 10 }, sync: true });
      await storage.close();
      const log = await fileNamed(dir, /\.log$/);
      await truncate(log, (await stat(log)).size - 50_000);
      const reopened = await DiskStorage.open(dir);
      try {
        assert.equal(reopened.lastIndex(), 10);
        assert.match(reopened.warnings.join('\n'), /it is dropped: log entries from index 11 on; the log now ends at index 10$/);
      } finally {
        await reopened.close();
      }
    });

    it('a zero-filled tail (a file system that extended the file before a crash) holds nothing and opens', async () => {
      await writeEntries(dir, 20);
      await appendFile(await fileNamed(dir, /\.log$/), Buffer.alloc(100));
      const storage = await DiskStorage.open(dir);
      assert.equal(storage.lastIndex(), 20);
      assert.deepEqual(storage.warnings, []);
      await storage.close();
    });
  });

  describe('a snapshot the member stopped receiving', () => {
    it('is removed once the dir is checked, and said so; the log is intact', async () => {
      await writeEntries(dir, 20);
      await writeFile(path.join(dir, INCOMING_SNAPSHOT_FILE), Buffer.alloc(4096, 7));
      const storage = await DiskStorage.open(dir);
      assert.equal(storage.lastIndex(), 20);
      assert.equal(storage.warnings.length, 1);
      assert.match(storage.warnings[0]!, /removed incoming-snapshot\.part, a snapshot from the leader that the member stopped receiving/);
      await storage.close();
      assert.ok(!(await readdir(dir)).includes(INCOMING_SNAPSHOT_FILE));
    });

    it('is not removed from a dir that is refused', async () => {
      await writeEntries(dir, 10);
      await writeFile(path.join(dir, INCOMING_SNAPSHOT_FILE), 'partial');
      await unlink(path.join(dir, 'CURRENT'));
      await refusedUntouched(dir, /CURRENT file is missing/);
    });
  });

  describe('modes (local trust: files only the member user reads)', () => {
    let umask: number;
    beforeEach(() => {
      umask = process.umask(0);
    });
    afterEach(() => {
      process.umask(umask);
    });

    it('with umask 000, the dir is created 0700 and every file in it 0600, also those LevelDB creates later', async () => {
      await writeEntries(dir, 50);
      await (await DiskStorage.open(dir)).close();
      assert.equal((await stat(dir)).mode & 0o777, 0o700);
      const names = await readdir(dir);
      assert.ok(names.some((name) => name.endsWith('.ldb')), `a table was made later: ${names.join(' ')}`);
      for (const name of names) assert.equal((await stat(path.join(dir, name))).mode & 0o777, 0o600, name);
    });

    it('an existing dir open to other users gets one warning naming it and its mode', async () => {
      await mkdir(dir);
      await chmod(dir, 0o755);
      const storage = await DiskStorage.open(dir);
      await storage.close();
      assert.deepEqual(storage.warnings, [`data dir ${dir} has mode 0755: other users of this machine can read or change it; chmod 700 ${dir}`]);
    });
  });
});
