import type http from 'node:http';
import type { SnapshotFileHeader } from '../api/snapshot-file.ts';
import { SNAPSHOT_FILE_VERSION, SnapshotFileEncoder } from '../api/snapshot-file.ts';
import type { StoreHeader } from '../store/snapshot.ts';
import type { SnapshotRead } from '../store/snapshot-read.ts';
import { drained, nextTurn } from './keys-response.ts';
import { formatId } from './member-id.ts';
import { encodeNode } from './store-image.ts';

/** A member's whole state at one applied index, as Member.backupView takes it. */
export interface BackupView {
  readonly read: SnapshotRead;
  readonly store: StoreHeader;
  readonly keys: number;
  readonly raftIndex: number;
  readonly term: number;
  readonly clusterId: number;
  readonly name: string;
  readonly membership: unknown;
  /** Users, roles and the auth switch (AuthState's image). */
  readonly auth: unknown;
}

/** Nodes encoded per slice: the event loop turns (or the client drains) between slices. */
const SLICE_NODES = 2000;

/**
 * Answers GET /v2/kvd/snapshot: the snapshot file (src/api/snapshot-file.ts) of `view`, streamed
 * a slice of nodes at a time, never more than a slice ahead of what the client has taken.
 */
export async function writeBackup(res: http.ServerResponse, view: BackupView, headers: http.OutgoingHttpHeaders, now: Date): Promise<void> {
  const { read } = view;
  try {
    const encoder = new SnapshotFileEncoder();
    let gone = false;
    res.once('close', () => (gone = true));
    res.writeHead(200, { ...headers, 'content-type': 'application/octet-stream' });
    let chunk = encoder.start(headerOf(view, now));
    while (!read.done) {
      chunk = Buffer.concat([chunk, encoder.records(read.next(SLICE_NODES).map(encodeNode))]);
      await (res.write(chunk) ? nextTurn() : drained(res));
      if (gone) return;
      chunk = Buffer.alloc(0);
    }
    res.end(Buffer.concat([chunk, encoder.finish()]));
  } finally {
    read.close();
  }
}

function headerOf(view: BackupView, now: Date): SnapshotFileHeader {
  return {
    version: SNAPSHOT_FILE_VERSION,
    created: now.toISOString(),
    index: view.read.index,
    raftIndex: view.raftIndex,
    term: view.term,
    keys: view.keys,
    clusterId: formatId(view.clusterId),
    member: view.name,
    membership: view.membership,
    store: view.store,
    auth: view.auth,
  };
}
