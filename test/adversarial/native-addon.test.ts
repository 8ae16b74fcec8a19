import assert from 'node:assert/strict';
import { chmodSync, chownSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { KVD_BIN, requireBinary, run } from '../helpers/binary.ts';

const ADDON = 'classic-level.node';

describe('adversarial: the executable loads its native addon only from a private cache, only with its own bytes', function () {
  this.timeout(60_000);
  let base: string;
  /** The addon's cache dir name (its hash) and its bytes, from a first extraction. */
  let hashDir: string;
  let genuine: Buffer;

  /** `kvd doctor` (which loads the storage engine) with only these cache locations. */
  const doctor = (env: { XDG_CACHE_HOME?: string; HOME: string; TMPDIR: string }) => run(KVD_BIN, ['doctor', '--dir', base], { env: { PATH: '/usr/bin:/bin', ...env } });
  /** As many bytes as the addon, none of them its: loading them would run code that is not kvd's. */
  const planted = () => Buffer.alloc(genuine.length, 0x5a);
  /** Makes root/kvd/native/<hash>/ with the given mode on each dir and plants a foreign file in it. */
  const plant = (root: string, mode: number): string => {
    const dirs = [path.join(root, 'kvd'), path.join(root, 'kvd', 'native'), path.join(root, 'kvd', 'native', hashDir)];
    for (const dir of dirs) {
      mkdirSync(dir, { recursive: true });
      chmodSync(dir, mode);
    }
    const file = path.join(dirs[2]!, ADDON);
    writeFileSync(file, planted());
    return file;
  };
  const dir = (name: string) => {
    const made = path.join(base, name);
    mkdirSync(made);
    return made;
  };

  before(async () => {
    requireBinary();
    base = await mkdtemp(path.join(os.tmpdir(), 'kvd-test-addon-'));
    const first = await doctor({ XDG_CACHE_HOME: dir('first'), HOME: dir('first-home'), TMPDIR: dir('first-tmp') });
    assert.equal(first.code, 0, first.stdout + first.stderr);
    [hashDir] = readdirSync(path.join(base, 'first', 'kvd', 'native'));
    genuine = readFileSync(path.join(base, 'first', 'kvd', 'native', hashDir!, ADDON));
  });
  after(async () => {
    if (base !== undefined) await rm(base, { recursive: true, force: true });
  });

  it('replaces a file of the same size but other bytes in its own cache dir, and loads its own', async () => {
    const file = plant(dir('own'), 0o700);
    const result = await doctor({ XDG_CACHE_HOME: path.join(base, 'own'), HOME: dir('own-home'), TMPDIR: dir('own-tmp') });
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.ok(readFileSync(file).equals(genuine), 'the planted file is still there');
  });

  it('avoids a cache dir that others can write to, and extracts to the next root', async () => {
    const file = plant(dir('shared'), 0o777);
    const home = dir('shared-home');
    const result = await doctor({ XDG_CACHE_HOME: path.join(base, 'shared'), HOME: home, TMPDIR: dir('shared-tmp') });
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.ok(readFileSync(file).equals(planted()), 'kvd wrote into a dir that others can write to');
    assert.ok(readFileSync(path.join(home, '.cache', 'kvd', 'native', hashDir, ADDON)).equals(genuine));
  });

  it('avoids a cache dir that belongs to another user (when the test runs as root, which can make one)', async function () {
    if (process.getuid?.() !== 0) this.skip();
    const root = dir('foreign');
    const file = plant(root, 0o700);
    chownSync(path.join(root, 'kvd'), 65534, 65534);
    const home = dir('foreign-home');
    const result = await doctor({ XDG_CACHE_HOME: root, HOME: home, TMPDIR: dir('foreign-tmp') });
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.ok(readFileSync(file).equals(planted()), 'kvd wrote into a dir of another user');
    assert.ok(readFileSync(path.join(home, '.cache', 'kvd', 'native', hashDir, ADDON)).equals(genuine));
  });

  it('refuses, in one line, when the temp dir fallback is all there is and others can write to it', async () => {
    const tmp = dir('tmp-only');
    const file = plant(tmp, 0o777);
    const notADir = path.join(base, 'home-is-a-file');
    writeFileSync(notADir, '');
    const result = await doctor({ HOME: notADir, TMPDIR: tmp });
    assert.notEqual(result.code, 0);
    const output = result.stdout + result.stderr;
    assert.doesNotMatch(output, /ELF|invalid|dlopen/i, 'the planted file was loaded');
    assert.match(output, /^Error: cannot extract the storage engine's native addon to a private cache directory: .*is writable by group or others\n$/);
    assert.ok(readFileSync(file).equals(planted()));
  });
});
