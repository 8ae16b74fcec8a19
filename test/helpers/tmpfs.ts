import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/**
 * A small tmpfs mounted on a fresh temp dir: a disk that fills up after `sizeKiB`. Mounting needs
 * root (or CAP_SYS_ADMIN): the tests run as root here and in CI; elsewhere `mount` returns
 * undefined and the caller skips, saying why.
 */
export class Tmpfs {
  readonly dir: string;

  private constructor(dir: string) {
    this.dir = dir;
  }

  static async mount(sizeKiB: number): Promise<Tmpfs | undefined> {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'kvd-tmpfs-'));
    const failure = await command('mount', ['-t', 'tmpfs', '-o', `size=${sizeKiB}k`, 'tmpfs', dir]);
    if (failure === undefined) return new Tmpfs(dir);
    await rm(dir, { recursive: true, force: true });
    return undefined;
  }

  /** Gives the file system more room, keeping its files (the operator freeing the disk). */
  async resize(sizeKiB: number): Promise<void> {
    const failure = await command('mount', ['-o', `remount,size=${sizeKiB}k`, this.dir]);
    if (failure !== undefined) throw new Error(`cannot resize the tmpfs on ${this.dir}: ${failure}`);
  }

  /** Unmounts (lazily, should a process still hold a file there) and removes the mount point. */
  async unmount(): Promise<void> {
    await command('umount', ['-l', this.dir]);
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** Runs a command; undefined when it succeeds, else what it printed. */
function command(file: string, args: readonly string[]): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile(file, [...args], { encoding: 'utf8' }, (error, _stdout, stderr) => resolve(error === null ? undefined : stderr.trim() || error.message));
  });
}
