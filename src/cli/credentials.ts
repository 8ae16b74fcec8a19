import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { UsageError } from './errors.ts';

/**
 * `--user NAME[:PASSWORD]` as an HTTP Basic Authorization header. Without a password it is asked
 * for on the terminal, with echo off; with no terminal to ask on, that is a usage error (a
 * password is never read from a pipe that may be someone else's output).
 */
export function authorizationFor(user: string | undefined, ask: (prompt: string) => string = askOnTerminal): string | undefined {
  if (user === undefined || user === '') return undefined;
  const colon = user.indexOf(':');
  const name = colon < 0 ? user : user.slice(0, colon);
  if (name === '') throw new UsageError('--user needs a user name: --user NAME[:PASSWORD]');
  const password = colon < 0 ? ask(`Password for ${name}: `) : user.slice(colon + 1);
  return `Basic ${Buffer.from(`${name}:${password}`, 'utf8').toString('base64')}`;
}

/** Splits `NAME[:PASSWORD]` (user add, user passwd), asking for a new password when it is left out. */
export function nameAndPassword(text: string, ask: (prompt: string) => string = askOnTerminal): { name: string; password: string } {
  const colon = text.indexOf(':');
  if (colon === 0 || text === '') throw new UsageError('give a user name: NAME[:PASSWORD]');
  if (colon > 0) return { name: text.slice(0, colon), password: text.slice(colon + 1) };
  const password = ask('New password: ');
  if (password === '') throw new UsageError('the password is empty');
  return { name: text, password };
}

/** Reads one line from the controlling terminal with echo off. */
export function askOnTerminal(prompt: string): string {
  let tty: number;
  try {
    tty = openSync('/dev/tty', 'r+');
  } catch {
    throw new UsageError('no terminal to ask for the password on: give it as NAME:PASSWORD (or in KVCTL_USER)');
  }
  // Loaded here, not at start-up: credentials.ts is on kvctl get's path, child_process is not.
  const { spawnSync } = process.getBuiltinModule('node:child_process');
  try {
    writeSync(tty, prompt);
    spawnSync('stty', ['-echo'], { stdio: [tty, 'ignore', 'ignore'] });
    try {
      return readLine(tty);
    } finally {
      spawnSync('stty', ['echo'], { stdio: [tty, 'ignore', 'ignore'] });
      writeSync(tty, '\n');
    }
  } finally {
    closeSync(tty);
  }
}

function readLine(fd: number): string {
  const bytes: number[] = [];
  const one = Buffer.alloc(1);
  while (readSync(fd, one, 0, 1, null) === 1 && one[0] !== 0x0a) bytes.push(one[0]!);
  return Buffer.from(bytes).toString('utf8').replace(/\r$/, '');
}
