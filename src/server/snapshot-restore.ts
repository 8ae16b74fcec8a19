import { mkdir, readdir, rename, rm, rmdir } from 'node:fs/promises';
import path from 'node:path';
import type { VerifiedSnapshot } from '../api/snapshot-file.ts';
import { SnapshotFileError, snapshotRecords, verifySnapshotFile } from '../api/snapshot-file.ts';
import { DiskStorage } from '../storage/disk-storage.ts';
import { DataDirError } from '../storage/errors.ts';
import { AuthState } from './auth-state.ts';
import { parseInitialCluster } from './config.ts';
import { clusterIdFor, formatId, memberIdFor } from './member-id.ts';
import { decodeNode } from './store-image.ts';

/** etcdctl snapshot restore's flags. */
export interface RestoreOptions {
  readonly file: string;
  readonly name: string;
  readonly initialCluster: string;
  /** Defaults to this member's URLs in --initial-cluster. */
  readonly initialAdvertisePeerUrls?: string;
  readonly initialClusterToken: string;
  readonly dataDir: string;
}

export interface RestoreResult {
  readonly index: number;
  readonly keys: number;
  readonly clusterId: string;
  readonly memberId: string;
}

/** A restore that cannot be done (bad flags, a data dir in the way); the message says why in one line. */
export class RestoreError extends Error {}

/**
 * Makes the data dir of one member of a NEW cluster from a snapshot file: the file's store at its
 * index, the membership of --initial-cluster under a new cluster id (derived as `kvd serve` derives
 * a new cluster's), and a Raft state that starts from that snapshot. Every member of the new
 * cluster is restored from the same file, then started with the same --initial-cluster. The dir
 * is written beside the target and renamed into place only when whole; it is never written over a
 * non-empty one. Keys whose TTL has run out stay in the image: the new cluster's leader expires
 * them when it starts, the same way on every member (a restore's clock must not decide it).
 */
export async function restoreSnapshot(options: RestoreOptions): Promise<RestoreResult> {
  const snapshot = await verifySnapshotFile(options.file);
  const membership = newMembership(options);
  await refuseNonEmpty(options.dataDir);
  await mkdir(path.dirname(path.resolve(options.dataDir)), { recursive: true });
  const building = `${path.resolve(options.dataDir)}.restoring-${process.pid}`;
  await rm(building, { recursive: true, force: true });
  try {
    const keys = await writeDataDir(building, snapshot, membership);
    await rmdir(options.dataDir).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
    });
    await rename(building, options.dataDir);
    return { index: snapshot.header.index, keys, clusterId: formatId(membership.clusterId), memberId: formatId(membership.selfId) };
  } catch (error) {
    await rm(building, { recursive: true, force: true });
    throw error instanceof DataDirError ? new RestoreError(error.message) : error;
  }
}

interface NewMembership {
  readonly clusterId: number;
  readonly members: ReadonlyArray<{ readonly id: number; readonly name: string; readonly peerURLs: readonly string[]; readonly clientURLs: readonly string[] }>;
  readonly selfId: number;
}

/** The membership record `kvd serve --initial-cluster-state new` makes from the same flags. */
function newMembership(options: RestoreOptions): NewMembership {
  let cluster: Map<string, string[]>;
  try {
    cluster = parseInitialCluster(options.initialCluster);
  } catch (error) {
    throw new RestoreError(error instanceof Error ? error.message : String(error));
  }
  const mine = cluster.get(options.name);
  if (mine === undefined) throw new RestoreError(`--initial-cluster: has no member named "${options.name}" (--name)`);
  const advertised = options.initialAdvertisePeerUrls === undefined ? mine : options.initialAdvertisePeerUrls.split(',').map((url) => originOf(url.trim()));
  if ([...mine].sort().join(',') !== [...advertised].sort().join(',')) {
    throw new RestoreError(`--initial-cluster: "${options.name}" has peer URLs ${mine.join(',')}, but --initial-advertise-peer-urls says ${advertised.join(',')}`);
  }
  const members = [...cluster].map(([name, peerURLs]) => ({ id: memberIdFor(peerURLs, options.initialClusterToken), name, peerURLs, clientURLs: [] }));
  const clusterId = clusterIdFor(members.map((m) => m.id), options.initialClusterToken);
  return { clusterId, members, selfId: memberIdFor(advertised, options.initialClusterToken) };
}

function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    throw new RestoreError(`--initial-advertise-peer-urls: "${url}" is not a URL`);
  }
}

async function refuseNonEmpty(dir: string): Promise<void> {
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return;
    throw new RestoreError(`--data-dir ${dir}: ${code === 'ENOTDIR' ? 'is a file' : (code ?? String(error))}`);
  }
  if (entries.length > 0) throw new RestoreError(`--data-dir ${dir} is not empty: a restore makes a new member's data dir and never writes over one`);
}

/** Writes the data dir; returns the keys (files) written, checked against the file's header. */
async function writeDataDir(dir: string, snapshot: VerifiedSnapshot, membership: NewMembership): Promise<number> {
  const { header } = snapshot;
  const storage = await DiskStorage.open(dir);
  try {
    const base = await storage.beginBase();
    let keys = 0;
    for await (const batch of snapshotRecords(snapshot)) {
      for (const [key, value] of batch) {
        if (decodeNode(key, value).value !== null) keys++;
      }
      await base.add(batch);
    }
    if (keys !== header.keys) throw new SnapshotFileError(`${snapshot.file} is damaged: it holds ${keys} keys, its header says ${header.keys}`);
    const auth = authOf(snapshot);
    const head = Buffer.from(JSON.stringify({ membership, appliedIds: [], store: header.store, ...(auth !== undefined ? { auth } : {}) }), 'utf8');
    const sealed = await base.seal(header.raftIndex, head);
    const voters = membership.members.map((m) => m.id);
    await storage.installSealedBase(sealed, { index: header.raftIndex, term: header.term, confState: { voters, learners: [] } }, membership);
    return keys;
  } finally {
    await storage.close();
  }
}

/** The users, roles and auth switch the file carries, checked as a member would load them. */
function authOf(snapshot: VerifiedSnapshot): unknown {
  const { auth } = snapshot.header;
  if (auth === undefined) return undefined;
  try {
    AuthState.fromImage(auth);
  } catch {
    throw new SnapshotFileError(`${snapshot.file} is damaged: its users and roles do not decode`);
  }
  return auth;
}
