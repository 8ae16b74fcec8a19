import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

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
