// Builds bin/kvd: an esbuild bundle of src/main.ts inside Node's single executable, with the
// classic-level addon as an asset; bin/kvctl is a link to it. See ../shared/BUILD-NOTES.md.
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
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

await esbuild.build({
  entryPoints: [path.join(root, 'src/main.ts')],
  outfile: path.join(dist, 'kvd.mjs'),
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node26',
  minifySyntax: true,
  legalComments: 'none',
  banner: { js: banner },
  define: { 'globalThis.KVD_BUILD_VERSION': JSON.stringify(pkg.version), 'process.env.NODE_ENV': '"production"' },
  alias: {
    'node-gyp-build': path.join(root, 'scripts/shims/node-gyp-build.cjs'),
    'react-devtools-core': path.join(root, 'scripts/shims/empty.cjs'),
  },
  plugins: [builtinsByRequire],
  logLevel: 'warning',
});

// esbuild escapes non-ASCII characters in code, not in the doc comments it keeps; one such
// character makes V8 hold the whole bundle's source (~1.9 MB) as UTF-16 in every process.
const nonAscii = readFileSync(path.join(dist, 'kvd.mjs'), 'latin1').split('\n').findIndex((line) => /[\u0080-\u00ff]/.test(line));
if (nonAscii >= 0) console.warn(`build: dist/kvd.mjs line ${nonAscii + 1} holds a non-ASCII character (a kept comment?): the bundle's source takes twice the memory`);

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
  assets: { 'classic-level.node': addon },
};
writeFileSync(path.join(dist, 'sea-config.json'), JSON.stringify(config, null, 2));
rmSync(out, { force: true });
execFileSync(process.execPath, ['--build-sea', path.join(dist, 'sea-config.json')], { stdio: 'inherit' });
chmodSync(out, 0o755);
rmSync(path.join(bin, 'kvctl'), { force: true });
symlinkSync('kvd', path.join(bin, 'kvctl'));
rmSync(nodeCopy);
console.log(`build: ${path.relative(root, out)} ${pkg.version} (bin/kvctl -> kvd)`);
