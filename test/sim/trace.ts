import { createHash } from 'node:crypto';

/**
 * What happened in a run, one line per step, each with its simulated time. A run keeps the last
 * `keep` lines (the tail a failure prints); a verbose one keeps all of them, messages included.
 * The digest covers every line, kept or not: two runs of a seed must have the same one.
 */
export class Trace {
  readonly verbose: boolean;
  private readonly keep: number;
  private readonly lines: string[] = [];
  private readonly hash = createHash('sha256');
  private readonly now: () => number;
  count = 0;

  constructor(now: () => number, verbose: boolean, keep = 300) {
    this.now = now;
    this.verbose = verbose;
    this.keep = keep;
  }

  line(text: string): void {
    const line = `${(this.now() / 1000).toFixed(3).padStart(8)} ${text}`;
    this.hash.update(line).update('\n');
    this.count++;
    this.lines.push(line);
    if (!this.verbose && this.lines.length > this.keep * 2) this.lines.splice(0, this.lines.length - this.keep);
  }

  /** The lines kept: all of them when verbose, else the last `keep`. */
  tail(): string[] {
    return this.verbose ? [...this.lines] : this.lines.slice(-this.keep);
  }

  digest(): string {
    return this.hash.copy().digest('hex');
  }
}
