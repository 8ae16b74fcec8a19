import type { ChildProcess, ChildProcessByStdio } from 'node:child_process';
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Readable, Writable } from 'node:stream';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const KVD_BIN = path.join(ROOT, 'bin/kvd');
export const KVCTL_BIN = path.join(ROOT, 'bin/kvctl');

export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Throws when the executable has not been built, so that e2e suites fail with a clear reason. */
export function requireBinary(): void {
  if (!existsSync(KVD_BIN)) throw new Error(`${KVD_BIN} is missing: run 'make' first (make test does)`);
}

/** Runs an executable to completion with an environment of our choosing; never rejects. */
export function run(
  file: string,
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; input?: string; timeoutMs?: number } = {},
): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = execFile(
      file,
      [...args],
      { env: options.env ?? { PATH: '/usr/bin:/bin' }, cwd: options.cwd, timeout: options.timeoutMs ?? 20_000, encoding: 'utf8' },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
        resolve({ code, stdout, stderr });
      },
    );
    if (options.input !== undefined) child.stdin?.end(options.input);
    else child.stdin?.end();
  });
}

/** A kvctl (or kvd) started in the background: its output so far, and how it ended. */
export interface Background {
  readonly child: ChildProcess;
  stdout: string;
  stderr: string;
  /** Resolves with the exit code (128+N when a signal ended it) once all output is read. */
  readonly closed: Promise<number>;
  /** Resolves when stdout matches; rejects when the process ends first or after `timeoutMs`, with what it printed. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
  /** The same for stderr. */
  waitForStderr(pattern: RegExp, timeoutMs?: number): Promise<void>;
  /** Sends a signal (if it still runs) and waits for the end. */
  stop(signal?: NodeJS.Signals): Promise<number>;
}

const SIGNALS: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };

/** Every background process not yet ended, for stopBackgrounds. */
const running = new Set<Background>();

/**
 * Kills (SIGKILL) every process `background` started that still runs, and waits for their ends:
 * the afterEach hook of every suite that starts some, so that a failed test leaves none behind.
 */
export async function stopBackgrounds(): Promise<void> {
  await Promise.all([...running].map((bg) => bg.stop('SIGKILL')));
}

/** `stdin: true` gives the process a pipe to write to (child.stdin); by default it reads nothing. */
export function background(file: string, args: readonly string[], env: NodeJS.ProcessEnv = { PATH: '/usr/bin:/bin' }, options: { stdin?: boolean } = {}): Background {
  const child = spawn(file, [...args], { env, stdio: [options.stdin === true ? 'pipe' : 'ignore', 'pipe', 'pipe'] }) as ChildProcessByStdio<Writable | null, Readable, Readable>;
  const closed = new Promise<number>((resolve) => child.once('close', (code, signal) => resolve(code ?? 128 + (SIGNALS[signal!] ?? 0))));
  let ended = false;
  const waitOn = (stream: 'stdout' | 'stderr', pattern: RegExp, timeoutMs: number): Promise<void> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        if (pattern.test(bg[stream])) finish();
        else if (ended) finish(new Error(`ended (${child.exitCode ?? child.signalCode}) without printing ${pattern} on ${stream}`));
      };
      const timer = setTimeout(() => finish(new Error(`never printed ${pattern} on ${stream} in ${timeoutMs} ms`)), timeoutMs);
      const finish = (error?: Error): void => {
        clearTimeout(timer);
        child[stream].off('data', check);
        if (error === undefined) resolve();
        else reject(new Error(`${error.message}; stdout:\n${bg.stdout.slice(-1500)}\nstderr:\n${bg.stderr.slice(-1500)}`));
      };
      // After the handler that appends the chunk (registered below, at spawn), so the text is there.
      child[stream].on('data', check);
      void closed.then(check);
      check();
    });
  const bg: Background = {
    child,
    stdout: '',
    stderr: '',
    closed,
    waitFor: (pattern, timeoutMs = 20_000) => waitOn('stdout', pattern, timeoutMs),
    waitForStderr: (pattern, timeoutMs = 20_000) => waitOn('stderr', pattern, timeoutMs),
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return closed;
    },
  };
  child.stdout.on('data', (chunk: Buffer) => (bg.stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (bg.stderr += chunk.toString()));
  running.add(bg);
  void closed.then(() => {
    ended = true;
    running.delete(bg);
  });
  return bg;
}

/** kvctl against the endpoints `endpoints()` gives at each call. */
export interface KvctlAgainst {
  /** Runs it to completion. */
  kvctl(...args: string[]): Promise<RunResult>;
  /** Starts it in the background (stopBackgrounds kills it). */
  bg(...args: string[]): Background;
  /** Starts `kvctl lock NAME` (no command) and resolves once it holds the lock (it printed its key). */
  holdLock(name: string): Promise<Background>;
}

export function kvctlAgainst(endpoints: () => string): KvctlAgainst {
  const bg = (...args: string[]): Background => background(KVCTL_BIN, ['--endpoints', endpoints(), ...args]);
  return {
    kvctl: (...args) => run(KVCTL_BIN, ['--endpoints', endpoints(), ...args]),
    bg,
    async holdLock(name) {
      const holder = bg('lock', name);
      await holder.waitFor(new RegExp(`^/_kvctl/locks/${name}/\\d{20}\\n$`));
      return holder;
    },
  };
}
