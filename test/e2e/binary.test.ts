import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, symlink, chmod } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { KVD_BIN, ROOT, requireBinary, run } from '../helpers/binary.ts';

describe('bin/kvd, the single executable', function () {
  let dir: string;
  const version = async () => JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8')).version as string;

  before(async () => {
    requireBinary();
    dir = await mkdtemp(path.join(os.tmpdir(), 'kvd-test-binary-'));
    await copyFile(KVD_BIN, path.join(dir, 'kvd'));
    await chmod(path.join(dir, 'kvd'), 0o755);
    await symlink('kvd', path.join(dir, 'kvctl'));
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  // `env -i`: no PATH, no node, no node_modules anywhere near the copy.
  const runAlone = (name: string, args: string[], env: NodeJS.ProcessEnv = {}) =>
    run('/usr/bin/env', ['-i', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), `./${name}`, ...args], { cwd: dir, env: {} });

  it('answers --version alone in an empty directory, as kvd and as kvctl', async () => {
    const expected = `${await version()}\n`;
    assert.deepEqual(await runAlone('kvd', ['--version']), { code: 0, stdout: expected, stderr: '' });
    assert.deepEqual(await runAlone('kvctl', ['--version']), { code: 0, stdout: expected, stderr: '' });
  });

  it('ignores environment variables that only look like its own (KVD, KVDEXE, KVCTL)', async () => {
    const expected = `${await version()}\n`;
    const env = { KVD: 'x', KVDEXE: 'y', KVCTL: 'z', KVCTLFOO: 'w' };
    assert.deepEqual(await runAlone('kvd', ['--version'], env), { code: 0, stdout: expected, stderr: '' });
    assert.deepEqual(await runAlone('kvctl', ['--version'], env), { code: 0, stdout: expected, stderr: '' });
  });

  it('colours the error prefix on a terminal, unless NO_COLOR is set', async () => {
    // `script` gives the command a pseudo-terminal.
    const onTerminal = (env: string) =>
      run('/usr/bin/script', ['-qec', `${env} ./kvctl --endpoints http://127.0.0.1:1 get /a`, '/dev/null'], { cwd: dir, env: { PATH: '/usr/bin:/bin', TERM: 'xterm' } });
    const ESC = String.fromCharCode(27);
    assert.ok((await onTerminal('')).stdout.includes(`${ESC}[31m${ESC}[1mError:`));
    assert.ok(!(await onTerminal('NO_COLOR=1')).stdout.includes(ESC));
  });

  it('compiles at start only --version and the quick path: yargs, ink, React and the server are in the second script', async () => {
    // dist/kvd.mjs is the executable's main script (scripts/build.mjs); esbuild heads each module with its path.
    const modules = (script: string) => [...script.matchAll(/^\/\/ (\S+)$/gm)].map((match) => match[1]!);
    const main = modules(await readFile(path.join(ROOT, 'dist/kvd.mjs'), 'utf8'));
    assert.ok(main.includes('src/cli/quick-path.ts'), 'the quick path is in the main script');
    const heavy = /^(node_modules\/(yargs|ink|react|classic-level)\/|src\/(server|storage|store|raft|tui)\/|src\/cli\/kvctl\.ts)/;
    assert.deepEqual(main.filter((module) => heavy.test(module)), []);
    const second = modules(await readFile(path.join(ROOT, 'dist/programs.js'), 'utf8'));
    assert.ok(second.includes('src/cli/kvctl.ts') && second.some((module) => module.startsWith('src/server/')));
  });

  it('dispatches on the invoked name, and kvd ctl reaches the client', async () => {
    const kvdHelp = await runAlone('kvd', ['--help']);
    assert.match(kvdHelp.stdout, /kvd doctor/);
    assert.doesNotMatch(kvdHelp.stdout, /kvctl get/);
    const kvctlHelp = await runAlone('kvctl', ['--help']);
    assert.match(kvctlHelp.stdout, /kvctl get <KEY>/);
    assert.match(kvctlHelp.stdout, /Exit codes:/);
    const ctlHelp = await runAlone('kvd', ['ctl', '--help']);
    assert.match(ctlHelp.stdout, /kvctl put <KEY>/);
  });

  it('loads the storage engine and ink from inside the executable, extracting the addon to the cache dir', async () => {
    const cache = path.join(dir, 'cache');
    const result = await runAlone('kvd', ['doctor', '--dir', dir], { XDG_CACHE_HOME: cache });
    assert.equal(result.code, 0, result.stderr + result.stdout);
    assert.match(result.stdout, /ok\s+storage engine\s+LevelDB/);
    assert.match(result.stdout, /ok\s+terminal UI/);
    const [hash] = await readdir(path.join(cache, 'kvd', 'native'));
    assert.match(hash ?? '', /^[0-9a-f]{16}$/);
    assert.deepEqual(await readdir(path.join(cache, 'kvd', 'native', hash!)), ['classic-level.node']);
    const again = await runAlone('kvd', ['doctor', '--dir', dir], { XDG_CACHE_HOME: cache });
    assert.equal(again.code, 0);
  });

  it('falls back to the temp dir when no cache dir is writable', async () => {
    const tmp = path.join(dir, 'tmp');
    await mkdir(tmp);
    // Tests may run as root, which ignores permissions: a path below a regular file cannot be made.
    const blocked = path.join(dir, 'kvd', 'cache');
    const result = await runAlone('kvd', ['doctor', '--dir', dir], { XDG_CACHE_HOME: blocked, HOME: blocked, TMPDIR: tmp });
    assert.equal(result.code, 0, result.stderr + result.stdout);
    const hashes = await readdir(path.join(tmp, 'kvd', 'native'));
    assert.equal(hashes.length, 1);
    assert.deepEqual(await readdir(path.join(tmp, 'kvd', 'native', hashes[0]!)), ['classic-level.node']);
  });
});
