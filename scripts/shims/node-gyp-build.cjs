// Replaces node-gyp-build in the bundle: classic-level asks it for its native addon.
// Inside the single executable the addon travels as a SEA asset; it is written once to a cache
// directory named by its content hash (temp file + rename, so concurrent starts never see a
// half-written file) and loaded from there. Outside a SEA the real node-gyp-build is used.
'use strict';
const { createHash } = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const ASSET = 'classic-level.node';

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

function extract(bytes) {
  const hash = createHash('sha256').update(bytes).digest('hex').slice(0, 16);
  const failures = [];
  for (const root of cacheRoots()) {
    const dir = path.join(root, 'kvd', 'native', hash);
    const file = path.join(dir, ASSET);
    try {
      if (fs.existsSync(file) && fs.statSync(file).size === bytes.length) return file;
      fs.mkdirSync(dir, { recursive: true });
      const tmp = `${file}.${process.pid}.tmp`;
      fs.writeFileSync(tmp, bytes, { mode: 0o755 });
      fs.renameSync(tmp, file);
      return file;
    } catch (err) {
      failures.push(`${dir}: ${err.message}`);
    }
  }
  throw new Error(`cannot extract the storage engine's native addon:\n  ${failures.join('\n  ')}`);
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
