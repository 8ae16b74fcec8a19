import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { SnapshotFileHeader } from '../../src/api/snapshot-file.ts';
import { SNAPSHOT_FILE_VERSION, SnapshotFileEncoder, SnapshotFileError, snapshotRecords, verifySnapshotFile } from '../../src/api/snapshot-file.ts';

const HEADER: SnapshotFileHeader = { version: SNAPSHOT_FILE_VERSION, created: '2026-11-30T08:00:00.000Z', index: 42, raftIndex: 50, term: 3, keys: 2, clusterId: '0000000000000001', member: 'm1', membership: {}, store: {} };

function record(key: string, value: string): readonly [Buffer, Buffer] {
  return [Buffer.from(key), Buffer.from(value)];
}

/** A file of three records, written in two parts as a member streams it. */
function encoded(): Buffer {
  const encoder = new SnapshotFileEncoder();
  return Buffer.concat([encoder.start(HEADER), encoder.records([record('/a', 'dir')]), encoder.records([record('/a/b', '1'), record('/c', '')]), encoder.finish()]);
}

async function allRecords(file: string): Promise<string[]> {
  const out: string[] = [];
  for await (const batch of snapshotRecords(await verifySnapshotFile(file))) for (const [key, value] of batch) out.push(`${key.toString()}=${value.toString()}`);
  return out;
}

describe('snapshot file: header, records and checksum', () => {
  let dir: string;
  before(async () => (dir = await mkdtemp(path.join(os.tmpdir(), 'kvd-snapshot-file-'))));
  after(() => rm(dir, { recursive: true, force: true }));

  it('reads back the header and the records written', async () => {
    const file = path.join(dir, 'good');
    const bytes = encoded();
    await writeFile(file, bytes);
    const verified = await verifySnapshotFile(file);
    assert.deepEqual(verified.header, HEADER);
    assert.equal(verified.size, bytes.length);
    assert.deepEqual(await allRecords(file), ['/a=dir', '/a/b=1', '/c=']);
  });

  it('refuses the file cut at any length, and any byte changed', async () => {
    const bytes = encoded();
    const file = path.join(dir, 'bad');
    for (let length = 0; length < bytes.length; length++) {
      await writeFile(file, bytes.subarray(0, length));
      await assert.rejects(verifySnapshotFile(file), SnapshotFileError, `cut at ${length}`);
    }
    for (let at = 0; at < bytes.length; at++) {
      const changed = Buffer.from(bytes);
      changed[at]! ^= 0x80;
      await writeFile(file, changed);
      await assert.rejects(verifySnapshotFile(file), SnapshotFileError, `byte ${at} changed`);
    }
  });

  it('refuses records that do not end at the end mark, even under a checksum that holds', async () => {
    const bytes = encoded();
    // The last record's value length grown by one, the checksum made again over it.
    const body = Buffer.from(bytes.subarray(0, bytes.length - 32));
    body.writeUInt32BE(1, body.length - 4 - 4);
    const file = path.join(dir, 'forged');
    await writeFile(file, Buffer.concat([body, createHash('sha256').update(body).digest()]));
    await assert.rejects(allRecords(file), SnapshotFileError);
  });
});
