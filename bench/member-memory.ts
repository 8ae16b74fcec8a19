// Resident memory of cluster members from outside, the same way for kvd and etcd: the processes are
// found by the client URL they were started with (/proc/<pid>/cmdline), and read from
// /proc/<pid>/status (Linux). RSS is what the issue compares; the anonymous part is the memory
// the process itself allocated (the rest is pages of its executable and libraries, shared with
// every process that maps them, and counted in larger pieces when the kernel holds the file in
// huge pages, as it does right after a build writes it).
import { readdirSync, readFileSync } from 'node:fs';

export interface Resident {
  /** MiB */
  readonly rss: number;
  /** MiB of RSS that is anonymous (heap, stacks, malloc): not file-backed. */
  readonly anon: number;
}

/** The pid of the process started with `--listen-client-urls <url>`, if one runs. */
export function pidListeningOn(url: string): number | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let args: string[];
    try {
      args = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
    } catch {
      continue; // gone since the listing
    }
    const at = args.indexOf('--listen-client-urls');
    if (at >= 0 && args[at + 1] === url) return Number(entry);
  }
  return undefined;
}

/** The process's resident memory now; undefined once it is gone. */
export function residentOf(pid: number): Resident | undefined {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
  return { rss: kib('VmRSS') / 1024, anon: kib('RssAnon') / 1024 };
}

/** Samples the members' resident memory every `everyMs` until `stop()`, which gives each one's peak. */
export class PeakSampler {
  private readonly pids: readonly number[];
  private readonly peaks: Resident[];
  private readonly timer: NodeJS.Timeout;

  constructor(pids: readonly number[], everyMs = 250) {
    this.pids = pids;
    this.peaks = pids.map(() => ({ rss: 0, anon: 0 }));
    this.sample();
    this.timer = setInterval(() => this.sample(), everyMs);
  }

  private sample(): void {
    this.pids.forEach((pid, i) => {
      const now = residentOf(pid);
      const peak = this.peaks[i]!;
      if (now !== undefined) this.peaks[i] = { rss: Math.max(peak.rss, now.rss), anon: Math.max(peak.anon, now.anon) };
    });
  }

  stop(): Resident[] {
    clearInterval(this.timer);
    this.sample();
    return this.peaks;
  }
}
