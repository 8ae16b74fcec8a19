// Replaces node-gyp-build in the bundle: classic-level asks it for its native addon.
// Inside the single executable the addon travels as a SEA asset; it is written to a cache
// directory named by its content hash (temp file + rename, so concurrent starts never see a
// half-written file) and loaded from there. Outside a SEA the real node-gyp-build is used.
//
// Loading a file runs its code, so the file is loaded only when its bytes hash to the asset's
// hash, and only from directories that no other user can change: each directory below the cache
// root is created 0700 and must be this user's, and not writable by group or others; the root
// itself must be this user's or root's, and sticky (as /tmp) if others can write to it. A root
// that fails is skipped for the next one; when none is left, one line says why.
'use strict';
const { createHash } = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const ASSET = 'classic-level.node';
const GROUP_OR_OTHERS_WRITE = 0o022;
const STICKY = 0o1000;

function cacheRoots() {
  const roots = [];
  if (process.env.XDG_CACHE_HOME) roots.push(process.env.XDG_CACHE_HOME);
  try {
    roots.push(path.join(os.homedir(), '.cache'));
  } catch {
    // no home directory for this user: only the temp dir is left
  }
  roots.push(os.tmpdir());
  return roots;
}

function sha256(bytes) {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The root may be a link (~/.cache often is); what it leads to must be a directory others cannot rearrange. */
function checkRoot(root) {
  fs.mkdirSync(root, { recursive: true, mode: 0o700 });
  const stat = fs.statSync(root);
  if (!stat.isDirectory()) throw new Error(`${root} is not a directory`);
  if (stat.uid !== process.getuid() && stat.uid !== 0) throw new Error(`${root} belongs to another user (uid ${stat.uid})`);
  if ((stat.mode & GROUP_OR_OTHERS_WRITE) !== 0 && (stat.mode & STICKY) === 0) throw new Error(`${root} is writable by others and not sticky`);
}

/** Creates `dir` 0700 if it is missing; throws unless it is a real directory of this user that only this user can write to. */
function privateDir(dir) {
  try {
    fs.mkdirSync(dir, { mode: 0o700 });
  } catch (err) {
    if (err.code !== 'EEXIST') throw err;
  }
  const stat = fs.lstatSync(dir);
  if (!stat.isDirectory()) throw new Error(`${dir} is not a directory`);
  if (stat.uid !== process.getuid()) throw new Error(`${dir} belongs to another user (uid ${stat.uid})`);
  if ((stat.mode & GROUP_OR_OTHERS_WRITE) !== 0) throw new Error(`${dir} is writable by group or others`);
}

/** Whether `file` is a regular file whose bytes hash to `hash`. */
function holds(file, hash) {
  try {
    return fs.lstatSync(file).isFile() && sha256(fs.readFileSync(file)) === hash;
  } catch {
    return false;
  }
}

/** Writes the addon into `dir` unless it is there already, byte for byte; returns its path. */
function place(dir, bytes, hash) {
  const file = path.join(dir, ASSET);
  if (holds(file, hash)) return file;
  const tmp = `${file}.${process.pid}.tmp`;
  fs.rmSync(tmp, { force: true });
  fs.writeFileSync(tmp, bytes, { mode: 0o700, flag: 'wx' });
  fs.renameSync(tmp, file);
  if (!holds(file, hash)) throw new Error(`${file} changed after it was written`);
  return file;
}

function extract(bytes) {
  const hash = sha256(bytes);
  const failures = [];
  for (const root of cacheRoots()) {
    const chain = [path.join(root, 'kvd'), path.join(root, 'kvd', 'native'), path.join(root, 'kvd', 'native', hash.slice(0, 16))];
    try {
      checkRoot(root);
      for (const dir of chain) privateDir(dir);
      return place(chain[chain.length - 1], bytes, hash);
    } catch (err) {
      failures.push(err.message);
    }
  }
  const error = new Error(`cannot extract the storage engine's native addon to a private cache directory: ${failures.join('; ')}`);
  // The CLI prints an error with this code as one line (src/cli/errors.ts).
  error.code = 'KVD_NATIVE_ADDON';
  throw error;
}

function loadFromSea(sea) {
  const file = extract(Buffer.from(sea.getRawAsset(ASSET)));
  const mod = { exports: {} };
  process.dlopen(mod, file);
  return mod.exports;
}

module.exports = function nodeGypBuild() {
  let sea;
  try {
    sea = require('node:sea');
  } catch {
    sea = undefined;
  }
  if (sea && sea.isSea()) return loadFromSea(sea);
  // A non-literal name keeps the bundler from redirecting this require back to this file.
  const realName = ['node', 'gyp', 'build'].join('-');
  const classicLevelDir = path.dirname(require.resolve('classic-level/package.json'));
  return require(realName)(classicLevelDir);
};
