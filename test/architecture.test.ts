import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from './helpers/binary.ts';

/** docs/architecture.md's module map: what each module may import of the project. */
const ALLOWED: Readonly<Record<string, readonly string[]>> = {
  raft: [],
  store: [],
  api: [],
  storage: ['raft'],
  server: ['raft', 'storage', 'store', 'api'],
  client: ['api'],
  tui: ['client', 'api'],
  cli: ['client', 'api', 'tui'],
};

/** Only the serve command, and snapshot restore (it writes a data dir, loaded lazily), may reach into the server. */
const SERVE_COMMAND = /^src\/cli\/commands\/(serve(-[a-z-]+)?|snapshot)\.ts$/;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return entry.name.endsWith('.ts') ? [full] : [];
  });
}

function importsOf(source: string): string[] {
  const specifiers = [...source.matchAll(/(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]/g)].map((m) => m[1]!);
  const dynamic = [...source.matchAll(/import\(\s*['"]([^'"]+)['"]\s*\)/g)].map((m) => m[1]!);
  return [...specifiers, ...dynamic];
}

describe('import directions (the module map of docs/architecture.md)', () => {
  const src = path.join(ROOT, 'src');
  const files = sourceFiles(src);

  it('finds the source files', () => assert.ok(files.length > 10));

  it('every src module is one of the map, and imports only what the map allows', () => {
    const violations: string[] = [];
    for (const file of files) {
      const relative = path.relative(ROOT, file);
      const module = path.relative(src, file).split(path.sep)[0]!;
      if (module === 'main.ts') continue;
      const allowed = ALLOWED[module];
      if (allowed === undefined) {
        violations.push(`${relative}: module "${module}" is not in the module map`);
        continue;
      }
      for (const specifier of importsOf(readFileSync(file, 'utf8'))) {
        if (!specifier.startsWith('.')) continue;
        const target = path.relative(src, path.resolve(path.dirname(file), specifier)).split(path.sep)[0]!;
        if (target.startsWith('..')) {
          violations.push(`${relative}: imports ${specifier}, outside src`);
          continue;
        }
        if (target === module) continue;
        const permitted = allowed.includes(target) || (target === 'server' && SERVE_COMMAND.test(relative));
        if (!permitted) violations.push(`${relative}: ${module} may not import ${target} (${specifier})`);
      }
    }
    assert.deepEqual(violations, []);
  });

  it('the pure modules (raft, store) use no I/O, timers, clocks or randomness', () => {
    const forbidden = /\bfrom\s+['"]node:|\bsetTimeout\b|\bsetInterval\b|\bDate\.now\b|\bnew Date\(\s*\)|\bMath\.random\b|\bperformance\.now\b/;
    const offenders = files
      .filter((file) => /^(raft|store)$/.test(path.relative(src, file).split(path.sep)[0]!))
      .filter((file) => forbidden.test(readFileSync(file, 'utf8')))
      .map((file) => path.relative(ROOT, file));
    assert.deepEqual(offenders, []);
  });
});
