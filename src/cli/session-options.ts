import type { Argv } from 'yargs';
import { SERVICES_DIR } from '../client/services.ts';
import { UsageError } from './errors.ts';

// Options and checks shared by the commands that hold something in the cluster: lock, elect,
// register, discover.

/** Checks a name meant to be one path segment below kvctl's directories. */
export function segmentName(what: string, name: string): string {
  if (name === '' || name.includes('/') || name === '.' || name === '..') throw new UsageError(`${what} "${name}" must be one non-empty path segment (no "/")`);
  return name;
}

/**
 * Waits until `signal` or `lost` aborts, and throws the reason: Interrupted when signalled (the
 * command exits 128+N, as a shell reports a process a signal stopped), the lease's loss otherwise.
 */
export function holdUntil(signal: AbortSignal, lost: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    const done = (): void => {
      signal.removeEventListener('abort', done);
      lost.removeEventListener('abort', done);
      reject(lost.aborted ? lost.reason : signal.reason);
    };
    if (signal.aborted || lost.aborted) return done();
    signal.addEventListener('abort', done, { once: true });
    lost.addEventListener('abort', done, { once: true });
  });
}

export function ttlOption<T>(yargs: Argv<T>, what: string, fallback: number) {
  return yargs.option('ttl', { type: 'number', default: fallback, describe: `seconds the ${what} outlives this process if it dies (kept alive every ttl/3)` });
}

export function checkTtl(ttl: number): number {
  if (!(Number.isInteger(ttl) && ttl >= 1)) throw new UsageError(`--ttl must be a whole number of seconds, at least 1, not ${ttl}`);
  return ttl;
}

export function prefixOption<T>(yargs: Argv<T>) {
  return yargs.option('prefix', { type: 'string', default: SERVICES_DIR, describe: 'the directory that holds one directory per service' });
}
