import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';

/** How old the size may be before a scrape starts measuring it again. */
const REFRESH_MS = 5000;

/**
 * The bytes of the files in a data dir (LevelDB keeps its tables and logs there, flat), for
 * /metrics. A scrape reads the last measurement and, when it is older than REFRESH_MS, starts a new
 * one in the background: the event loop never waits on the disk, and frequent scrapers (several
 * `kvctl status` at 1 s) cost one directory listing every few seconds.
 */
export class DataDirSize {
  private readonly dir: string;
  private bytes = 0;
  private measuredAt = -Infinity;
  private measuring = false;

  constructor(dir: string) {
    this.dir = dir;
    this.refresh();
  }

  /** The last measured size (0 before the first measurement ends). */
  get current(): number {
    if (performance.now() - this.measuredAt >= REFRESH_MS) this.refresh();
    return this.bytes;
  }

  private refresh(): void {
    if (this.measuring) return;
    this.measuring = true;
    void this.measure()
      .then((bytes) => {
        this.bytes = bytes;
      })
      // A dir being compacted may lose a file between the listing and its stat: keep the last size.
      .catch(() => undefined)
      .finally(() => {
        this.measuring = false;
        this.measuredAt = performance.now();
      });
  }

  private async measure(): Promise<number> {
    const entries = await readdir(this.dir, { withFileTypes: true });
    const sizes = await Promise.all(entries.filter((e) => e.isFile()).map((e) => stat(path.join(this.dir, e.name)).then((s) => s.size, () => 0)));
    return sizes.reduce((sum, size) => sum + size, 0);
  }
}
