import { signalExitCode } from './exit-code.ts';
import { TERMINATION_SIGNALS } from './signals.ts';

export interface ChildOptions {
  /** Added to this process's environment. */
  readonly env?: Readonly<Record<string, string>>;
  /** When it aborts, the child gets SIGTERM, then SIGKILL if it has not exited after `graceMs`. */
  readonly stop?: AbortSignal;
  readonly graceMs?: number;
  /**
   * Runs it in a process group of its own, so that stopping it stops whatever it started too
   * (a lock whose session is lost must stop the grandchildren). Not for a command that reads
   * the terminal: a process outside the terminal's foreground group is stopped when it does.
   */
  readonly ownGroup?: boolean;
}

/**
 * Runs a command with this process's stdio, forwarding SIGINT, SIGTERM and SIGHUP to it while it
 * runs. Resolves with its exit code (128+N when a signal ended it); a command that cannot be
 * started rejects.
 */
export function runChild(command: readonly string[], options: ChildOptions = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    // Loaded here, not at start-up: `kvctl get` never runs a child (~3 ms saved).
    const { spawn } = process.getBuiltinModule('node:child_process');
    const child = spawn(command[0]!, command.slice(1), { stdio: 'inherit', env: { ...process.env, ...options.env }, detached: options.ownGroup === true });
    const signal = (name: NodeJS.Signals): void => {
      if (options.ownGroup !== true || child.pid === undefined) return void child.kill(name);
      try {
        process.kill(-child.pid, name);
      } catch {
        // the group is gone already
      }
    };
    const forwards = TERMINATION_SIGNALS.map((name) => {
      const forward = (): void => signal(name);
      process.on(name, forward);
      return [name, forward] as const;
    });
    let killTimer: NodeJS.Timeout | undefined;
    const onStop = (): void => {
      signal('SIGTERM');
      killTimer = setTimeout(() => signal('SIGKILL'), options.graceMs ?? 3000);
    };
    options.stop?.addEventListener('abort', onStop, { once: true });
    const cleanUp = (): void => {
      for (const [name, forward] of forwards) process.off(name, forward);
      options.stop?.removeEventListener('abort', onStop);
      clearTimeout(killTimer);
    };
    child.once('error', (error: NodeJS.ErrnoException) => {
      cleanUp();
      reject(new ChildError(`cannot run ${command[0]}: ${error.code === 'ENOENT' ? 'command not found' : error.message}`));
    });
    child.once('exit', (code, signal) => {
      cleanUp();
      resolve(code ?? signalExitCode(signal ?? 'SIGTERM'));
    });
  });
}

/** The command given after `--` could not be started. */
export class ChildError extends Error {
  readonly code = 'CHILD';
  constructor(message: string) {
    super(message);
    this.name = 'ChildError';
  }
}
