// Builds bin/kvd: esbuild bundles of src/main.ts inside Node's single executable (the main script,
// and the command trees as a second script, see "Two scripts" below), with the classic-level addon
// as an asset; bin/kvctl is a link to it. See ../shared/BUILD-NOTES.md.
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';
import * as esbuild from 'esbuild';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const require = createRequire(import.meta.url);
const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
const dist = path.join(root, 'dist');
const bin = path.join(root, 'bin');
const addon = path.join(path.dirname(require.resolve('classic-level/package.json')), 'prebuilds/linux-x64/classic-level.node');

rmSync(dist, { recursive: true, force: true });
mkdirSync(dist, { recursive: true });
mkdirSync(bin, { recursive: true });

// Node's built-in modules are loaded with require, when the code that uses them first runs, not
// imported at the top of the bundle: an ESM import of a built-in evaluates it at start and reads
// every export (node:http's lazy getters load undici: ~40 ms before `kvctl get` does anything).
const { builtinModules } = await import('node:module');
const builtins = new Set(builtinModules);
const builtinsByRequire = {
  name: 'builtins-by-require',
  setup(build) {
    build.onResolve({ filter: /^[a-z_:/0-9]+$/ }, (args) => {
      const name = args.path.replace(/^node:/, '');
      if (!builtins.has(name) || args.namespace === 'builtin') return undefined;
      return { path: `node:${name}`, namespace: 'builtin' };
    });
    build.onLoad({ filter: /.*/, namespace: 'builtin' }, (args) => ({
      contents: `module.exports = require(${JSON.stringify(args.path)});`,
      loader: 'js',
    }));
  },
};

const banner = [
  "import { createRequire as __kvdCreateRequire } from 'node:module';",
  "import { fileURLToPath as __kvdFileURLToPath } from 'node:url';",
  'const require = __kvdCreateRequire(import.meta.url);',
  'const __filename = __kvdFileURLToPath(import.meta.url);',
  "const __dirname = __kvdFileURLToPath(new URL('.', import.meta.url));",
].join('\n');

// Two scripts, so that `kvctl --version` and kvctl's quick path (get, put, del, ls) compile ~80 kB
// instead of ~2 MB: the executable's main script is src/main.ts without src/cli/programs.ts (the
// yargs command trees, the server, the terminal UI), which is the second script, an asset that
// scripts/shims/programs-from-sea.mjs compiles only when a command needs it.
const programsEntry = path.join(root, 'src/cli/programs.ts');
const programsFromSea = {
  name: 'programs-from-sea',
  setup(build) {
    build.onResolve({ filter: /\/programs\.ts$/ }, (args) => {
      if (path.resolve(args.resolveDir, args.path) !== programsEntry) return undefined;
      return { path: path.join(root, 'scripts/shims/programs-from-sea.mjs') };
    });
  },
};

const common = {
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node26',
  minifySyntax: true,
  legalComments: 'none',
  define: { 'globalThis.KVD_BUILD_VERSION': JSON.stringify(pkg.version), 'process.env.NODE_ENV': '"production"' },
  alias: {
    'node-gyp-build': path.join(root, 'scripts/shims/node-gyp-build.cjs'),
    'react-devtools-core': path.join(root, 'scripts/shims/empty.cjs'),
  },
  logLevel: 'warning',
};

await esbuild.build({
  ...common,
  entryPoints: [path.join(root, 'src/main.ts')],
  outfile: path.join(dist, 'kvd.mjs'),
  banner: { js: banner },
  plugins: [builtinsByRequire, programsFromSea],
});

// The second script is a classic script, not a module, so that vm.Script can compile it with a
// code cache: the body of an async function (the bundle awaits at its top level) that takes the
// main script's require and import.meta, and returns what programs.ts exports.
await esbuild.build({
  ...common,
  entryPoints: [programsEntry],
  outfile: path.join(dist, 'programs.mjs'),
  define: { ...common.define, 'import.meta': '__kvdImportMeta' },
  plugins: [builtinsByRequire],
});
const programsModule = readFileSync(path.join(dist, 'programs.mjs'), 'utf8');
const exportsAt = programsModule.lastIndexOf('\nexport {');
const exported = /^\nexport \{([^}]*)\};\s*$/.exec(programsModule.slice(exportsAt));
if (exportsAt < 0 || exported === null) throw new Error('build: the programs bundle does not end with its one export statement');
const returned = exported[1].split(',').map((name) => name.trim().split(/\s+as\s+/)).map(([local, as]) => `${as ?? local}: ${local}`);
const programsScript = [
  '(async function (require, __kvdImportMeta) {',
  "'use strict';",
  'const __filename = require("node:url").fileURLToPath(__kvdImportMeta.url);',
  'const __dirname = require("node:url").fileURLToPath(new URL(".", __kvdImportMeta.url));',
  programsModule.slice(0, exportsAt),
  `return { ${returned.join(', ')} };`,
  '})',
].join('\n');
writeFileSync(path.join(dist, 'programs.js'), programsScript);
// Made by this same Node, which the executable is: V8 accepts a code cache only from its own version and flags.
writeFileSync(path.join(dist, 'programs.cache'), new vm.Script(programsScript, { filename: 'kvd-programs.js' }).createCachedData());
// esbuild escapes non-ASCII characters in code, not in the doc comments it keeps; one such
// character makes V8 hold a whole script's source as UTF-16 in every process.
for (const script of ['kvd.mjs', 'programs.js']) {
  const nonAscii = readFileSync(path.join(dist, script), 'latin1').split('\n').findIndex((line) => /[\u0080-\u00ff]/.test(line));
  if (nonAscii >= 0) console.warn(`build: dist/${script} line ${nonAscii + 1} holds a non-ASCII character (a kept comment?): the script's source takes twice the memory`);
}

const nodeCopy = path.join(dist, 'node');
copyFileSync(process.execPath, nodeCopy);
chmodSync(nodeCopy, 0o755);
try {
  execFileSync('strip', [nodeCopy]);
} catch {
  console.warn('build: strip is not available; the executable stays unstripped');
}

const out = path.join(bin, 'kvd');
const config = {
  main: path.join(dist, 'kvd.mjs'),
  mainFormat: 'module',
  output: out,
  executable: nodeCopy,
  useCodeCache: true,
  disableExperimentalSEAWarning: true,
  // No --min-semi-space-size: a young generation that starts at 8 MiB spares a short kvctl command
  // its one scavenge (~3 ms in 3 runs of 4, when its first contended lock makes abseil time the
  // CPU's clock with short sleeps), but execArgv applies to `kvd serve` too, where it cost 13 MB
  // of resident memory at idle (129 against 142 MB). The server's memory counts for more.
  assets: {
    'classic-level.node': addon,
    'programs.js': path.join(dist, 'programs.js'),
    'programs.cache': path.join(dist, 'programs.cache'),
  },
};
writeFileSync(path.join(dist, 'sea-config.json'), JSON.stringify(config, null, 2));
rmSync(out, { force: true });
execFileSync(process.execPath, ['--build-sea', path.join(dist, 'sea-config.json')], { stdio: 'inherit' });
chmodSync(out, 0o755);
rmSync(path.join(bin, 'kvctl'), { force: true });
symlinkSync('kvd', path.join(bin, 'kvctl'));
rmSync(nodeCopy);
console.log(`build: ${path.relative(root, out)} ${pkg.version} (bin/kvctl -> kvd)`);
