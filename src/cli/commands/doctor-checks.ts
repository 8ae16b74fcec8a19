import { mkdtemp, rm } from 'node:fs/promises';
import path from 'node:path';
import { ClassicLevel } from 'classic-level';
import { renderToString } from 'ink';
import { createElement as h } from 'react';
import type { Check } from '../../tui/CheckList.ts';
import { CheckList } from '../../tui/CheckList.ts';

function failure(name: string, error: unknown): Check {
  return { name, ok: false, detail: error instanceof Error ? error.message : String(error) };
}

/** Opens a scratch LevelDB in `dir`, writes a synced record, reads it back, removes it. */
export async function checkStorageEngine(dir: string): Promise<Check> {
  const name = 'storage engine';
  let scratch: string | undefined;
  try {
    scratch = await mkdtemp(path.join(dir, 'kvd-doctor-'));
    const started = performance.now();
    const db = new ClassicLevel<string, string>(scratch);
    await db.put('probe', 'ok', { sync: true });
    const value = await db.get('probe');
    await db.close();
    if (value !== 'ok') return { name, ok: false, detail: `read back ${JSON.stringify(value)} instead of "ok"` };
    const ms = (performance.now() - started).toFixed(1);
    return { name, ok: true, detail: `LevelDB (classic-level): synced write and read in ${ms} ms under ${dir}` };
  } catch (error) {
    return failure(name, error);
  } finally {
    if (scratch !== undefined) await rm(scratch, { recursive: true, force: true });
  }
}

/** Renders a component with ink, as the status UI does. */
export async function checkTerminalUi(): Promise<Check> {
  const name = 'terminal UI';
  try {
    const text = renderToString(h(CheckList, { checks: [{ name: 'probe', ok: true, detail: 'rendered' }] }));
    const ok = text.includes('rendered');
    return { name, ok, detail: ok ? 'ink renders' : `ink rendered ${JSON.stringify(text)}` };
  } catch (error) {
    return failure(name, error);
  }
}

/** The report; wide when stdout is not a terminal, so that scripts get one line per check. */
export function renderChecks(checks: readonly Check[]): string {
  return renderToString(h(CheckList, { checks }), { columns: process.stdout.columns || 200 });
}
