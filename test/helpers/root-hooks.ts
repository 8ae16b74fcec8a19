import { readdirSync, readFileSync } from 'node:fs';
import { KVD_BIN, stopBackgrounds } from './binary.ts';

/**
 * The suite's backstop (loaded by .mocharc's `require`): every test kills what it starts in its own
 * after hook; if one did not, the processes are found here, killed, and the run fails naming them,
 * so that a leak is a failure and never a machine left busy. And when the run is over but something
 * still holds Node's event loop (a socket, a timer, a child), mocha would wait forever: the handles
 * are printed and the process exits with a failure instead.
 */

interface ProcessEntry {
  readonly pid: number;
  readonly ppid: number;
  readonly command: string;
}

/**
 * Every process this mocha run started (children, their children, ...), and any process of this
 * checkout's kvd left orphaned (its parent, a script the suite ran, has gone: init adopted it). A
 * kvd whose parent still runs belongs to that parent, which may be another run of the suite.
 */
export function leftoverProcesses(): ProcessEntry[] {
  const all = processTable();
  const ours = new Set<number>([process.pid]);
  for (let grew = true; grew;) {
    grew = false;
    for (const entry of all) {
      if (!ours.has(entry.pid) && ours.has(entry.ppid)) {
        ours.add(entry.pid);
        grew = true;
      }
    }
  }
  return all.filter((entry) => entry.pid !== process.pid && (ours.has(entry.pid) || (entry.ppid === 1 && entry.command.startsWith(`${KVD_BIN} `))));
}

function processTable(): ProcessEntry[] {
  const entries: ProcessEntry[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      // The command name (in parentheses) may hold spaces: the fields after its closing one are fixed.
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (fields[0] === 'Z') continue; // exited, only not yet reaped: holds nothing
      const command = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0').join(' ').trim();
      entries.push({ pid: Number(name), ppid: Number(fields[1]), command });
    } catch {
      // gone between listing and reading
    }
  }
  return entries;
}

/** How long the process may stay alive once the run has ended before its handles are called a leak. */
const EXIT_GRACE_MS = 10_000;

export const mochaHooks = {
  /** What `background` started is per test: a test that failed before stopping its own leaves it here. */
  afterEach: stopBackgrounds,
  afterAll(): void {
    const left = leftoverProcesses();
    for (const entry of left) {
      try {
        process.kill(entry.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    if (left.length > 0) throw new Error(`processes left running by the suite (now killed):\n${left.map((e) => `  ${e.pid} ${e.command}`).join('\n')}`);
  },
};

export function mochaGlobalTeardown(): void {
  const timer = setTimeout(() => {
    console.error(`mocha did not exit ${EXIT_GRACE_MS / 1000} s after the suite ended; still open (one Timeout is this check's): ${process.getActiveResourcesInfo().join(', ')}`);
    // mocha sets the exit code from the failure count in its own 'exit' listener: this one runs after it.
    process.once('exit', () => (process.exitCode = 1));
    process.exit(1);
  }, EXIT_GRACE_MS);
  timer.unref();
}
