import { mkdir, readFile, readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { DataDirError } from './errors.ts';
import type { LogRead } from './leveldb-log.ts';
import { readSlice, readVarint } from './leveldb-coding.ts';
import { LogCorruption, batchOperations, readLogFile } from './leveldb-log.ts';
import { tableProblem } from './leveldb-table.ts';
import { ENTRY_PREFIX, entryIndexOf } from './log-store.ts';
import { IMAGE_PREFIX, KEY_SNAPSHOT_META } from './snapshot-layout.ts';
import { KEY_HARD_STATE, KEY_MEMBERSHIP } from './stable-store.ts';

/** What the check of a data dir found, before LevelDB was let near it. */
export interface DataDirCheck {
  /** The dir was absent or empty and is now created (mode 0700): LevelDB may create a database. */
  readonly fresh: boolean;
  /** Lines for the operator: modes wider than 0700. */
  readonly warnings: readonly string[];
  /**
   * The newest log ends in a torn write (the member stopped during it, so it was never durable
   * nor acknowledged), which LevelDB drops: the file, where, and what the write held.
   */
  readonly tornWrite?: string;
}

/** What an operator does about a damaged data dir (refused before anything in it changed). */
const UNTOUCHED = 'nothing was changed: restore the data dir from a backup, or remove it and add the member again';

/** The files LevelDB keeps in its directory; anything else means the dir is not (only) ours. */
const LEVELDB_NAME = /^(CURRENT|LOCK|LOG|LOG\.old|MANIFEST-\d+|\d+\.(log|ldb|sst|dbtmp))$/;

/**
 * Where a member writes a snapshot that a leader is sending it, in the data dir (LevelDB ignores
 * the name). One left by a member that stopped during a reception is removed once the dir is
 * checked: it was never installed.
 */
export const INCOMING_SNAPSHOT_FILE = 'incoming-snapshot.part';

/**
 * Checks a data dir without changing it, so that a refusal leaves it byte for byte as it was:
 * opening LevelDB writes (it rotates its LOG, replays and deletes logs, and over a missing
 * CURRENT creates a new database and deletes the old one's files). Creates the dir (0700) only
 * when it is absent. Throws DataDirError for a dir that is not a LevelDB database with all its
 * files, or whose MANIFEST, tables or logs fail their checksums; a log cut short by a stopped
 * writer is reported (`tornWrite`: LevelDB drops that last write, which was never durable).
 */
export async function checkDataDir(dir: string): Promise<DataDirCheck> {
  const listed = await listDir(dir);
  if (listed === undefined) {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    return { fresh: true, warnings: [] };
  }
  const warnings: string[] = [];
  const mode = (await stat(dir)).mode & 0o777;
  if ((mode & 0o077) !== 0) warnings.push(`data dir ${dir} has mode 0${mode.toString(8)}: other users of this machine can read or change it; chmod 700 ${dir}`);
  // A data dir that is a file system's mount point has the file system's lost+found.
  const names = listed.filter((name) => name !== 'lost+found' && name !== INCOMING_SNAPSHOT_FILE);
  if (names.length === 0) return { fresh: true, warnings };
  const foreign = names.filter((name) => !LEVELDB_NAME.test(name));
  if (foreign.length > 0) throw new DataDirError(dir, `holds ${foreign.slice(0, 3).join(', ')}${foreign.length > 3 ? ', …' : ''}, which LevelDB does not write: it is not a kvd data dir (or something else writes into it); nothing was changed`);
  if (!names.includes('CURRENT')) throw new DataDirError(dir, `LevelDB's CURRENT file is missing, so which of its files hold the data is unknown; ${UNTOUCHED}`);
  const manifest = await readManifest(dir, names);
  for (const [number, size] of manifest.tables) await checkTable(dir, names, number, size);
  // LevelDB replays the logs it finds and never misses one: the log its MANIFEST names (the one
  // open since it last started or compacted, removed only once a newer one is named) must be there.
  const currentLog = `${fileNumber(manifest.logNumber)}.log`;
  if (manifest.logNumber > 0 && !names.includes(currentLog)) throw new DataDirError(dir, `${currentLog}, the log LevelDB's MANIFEST names, is missing: the writes since LevelDB last compacted are lost; ${UNTOUCHED}`);
  const logs = names
    .map((name) => /^(\d+)\.log$/.exec(name))
    .filter((match) => match !== null)
    .map((match) => Number(match[1]))
    .filter((number) => number >= manifest.logNumber || number === manifest.prevLogNumber)
    .sort((a, b) => a - b);
  let tornWrite: string | undefined;
  for (const number of logs) {
    const name = `${fileNumber(number)}.log`;
    const read = await readChecked(dir, name);
    if (read.torn === undefined) continue;
    if (number !== logs[logs.length - 1]) throw new DataDirError(dir, `${name} is cut short at byte ${read.torn.offset}, but it is not the newest log: it was damaged after it was written; ${UNTOUCHED}`);
    tornWrite = `${name} ends in a torn write at byte ${read.torn.offset} (the member stopped during it, so it was never acknowledged); it is dropped: ${describeDropped(read.torn.partial)}`;
  }
  if (listed.includes(INCOMING_SNAPSHOT_FILE)) {
    await rm(path.join(dir, INCOMING_SNAPSHOT_FILE), { force: true });
    warnings.push(`data dir ${dir}: removed ${INCOMING_SNAPSHOT_FILE}, a snapshot from the leader that the member stopped receiving (it was never installed)`);
  }
  return { fresh: false, warnings, tornWrite };
}

async function listDir(dir: string): Promise<string[] | undefined> {
  try {
    return await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new DataDirError(dir, `cannot be read: ${(error as Error).message}`);
  }
}

/** A log-format file read and verified; damage is refused naming the file and the byte. */
async function readChecked(dir: string, name: string): Promise<LogRead> {
  try {
    return readLogFile(await readFile(path.join(dir, name)));
  } catch (error) {
    if (error instanceof LogCorruption) throw new DataDirError(dir, `${name} is damaged: ${error.message}; ${UNTOUCHED}`);
    throw new DataDirError(dir, `${name} cannot be read: ${(error as Error).message}`);
  }
}

interface Manifest {
  logNumber: number;
  prevLogNumber: number;
  /** The live tables: file number → size in bytes. */
  tables: Map<number, number>;
}

/**
 * LevelDB's current MANIFEST: its version edits replayed (LevelDB's version_edit.cc) for the
 * logs still to be replayed and the tables that hold the data. A torn last edit is ignored, as
 * LevelDB ignores it (the step it describes never happened).
 */
async function readManifest(dir: string, names: readonly string[]): Promise<Manifest> {
  const current = (await readFile(path.join(dir, 'CURRENT'), 'utf8')).trim();
  if (!/^MANIFEST-\d+$/.test(current)) throw new DataDirError(dir, `LevelDB's CURRENT file does not name a MANIFEST; ${UNTOUCHED}`);
  if (!names.includes(current)) throw new DataDirError(dir, `${current}, which LevelDB's CURRENT file names, is missing; ${UNTOUCHED}`);
  const read = await readChecked(dir, current);
  const manifest: Manifest = { logNumber: 0, prevLogNumber: 0, tables: new Map() };
  for (const edit of read.records) {
    if (!applyEdit(manifest, edit)) throw new DataDirError(dir, `${current} holds an edit that cannot be decoded; ${UNTOUCHED}`);
  }
  return manifest;
}

/** Applies one version edit; false if it is malformed. */
function applyEdit(manifest: Manifest, edit: Buffer): boolean {
  let at = 0;
  const number = (): number | undefined => {
    const read = readVarint(edit, at);
    if (read !== undefined) at = read.next;
    return read?.value;
  };
  const slice = (): boolean => {
    const read = readSlice(edit, at);
    if (read !== undefined) at = read.next;
    return read !== undefined;
  };
  while (at < edit.length) {
    const tag = number();
    if (tag === 1 && slice()) continue; // comparator
    if ((tag === 3 || tag === 4) && number() !== undefined) continue; // next file number, last sequence
    if (tag === 5 && number() !== undefined && slice()) continue; // compaction pointer
    if (tag === 2 || tag === 9) {
      const log = number();
      if (log === undefined) return false;
      if (tag === 2) manifest.logNumber = log;
      else manifest.prevLogNumber = log;
      continue;
    }
    if (tag === 6) {
      const [level, file] = [number(), number()];
      if (level === undefined || file === undefined) return false;
      manifest.tables.delete(file);
      continue;
    }
    if (tag === 7) {
      const [level, file, size] = [number(), number(), number()];
      if (level === undefined || file === undefined || size === undefined || !slice() || !slice()) return false;
      manifest.tables.set(file, size);
      continue;
    }
    return false;
  }
  return true;
}

/**
 * A table the MANIFEST lists must be there, whole, every block passing its checksum (LevelDB
 * names tables .ldb, formerly .sst).
 */
async function checkTable(dir: string, names: readonly string[], number: number, size: number): Promise<void> {
  const name = [`${fileNumber(number)}.ldb`, `${fileNumber(number)}.sst`].find((candidate) => names.includes(candidate));
  if (name === undefined) throw new DataDirError(dir, `the table ${fileNumber(number)}.ldb that LevelDB's MANIFEST lists is missing; ${UNTOUCHED}`);
  const bytes = await readFile(path.join(dir, name));
  if (bytes.length !== size) throw new DataDirError(dir, `the table ${name} has ${bytes.length} bytes where LevelDB's MANIFEST says ${size}; ${UNTOUCHED}`);
  const problem = tableProblem(bytes);
  if (problem !== undefined) throw new DataDirError(dir, `the table ${name} is damaged: ${problem}; ${UNTOUCHED}`);
}

function fileNumber(number: number): string {
  return String(number).padStart(6, '0');
}

/** What a torn write held, as far as its bytes go: the kvd records it would have written. */
function describeDropped(partial: Buffer): string {
  const operations = batchOperations(partial);
  if (operations.length > 0 && operations.every((operation) => !operation.put)) return 'deletions of old rows only';
  const parts: string[] = [];
  for (const { put, key } of operations) {
    if (!put) continue;
    if (key[0] === ENTRY_PREFIX && key.length === 9) parts.push(`log entries from index ${entryIndexOf(key)} on`);
    else if (key.equals(KEY_HARD_STATE)) parts.push('a hard state');
    else if (key.equals(KEY_MEMBERSHIP)) parts.push('a membership record');
    else if (key.equals(KEY_SNAPSHOT_META)) parts.push('a snapshot metadata record');
    else if (key[0] === IMAGE_PREFIX) parts.push('snapshot image rows');
  }
  const unique = [...new Set(parts)];
  return unique.length > 0 ? unique.join(', ') : 'too little of it is there to name what it held';
}
