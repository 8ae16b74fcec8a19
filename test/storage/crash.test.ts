import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { seededRandom } from '../../src/raft/rand.ts';
import { DiskStorage } from '../../src/storage/disk-storage.ts';
import { payloadFor } from './crash-payload.ts';

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'crash-child.ts');
const KILLS = Number(process.env.CRASH_KILLS ?? 50);

/** Runs the writer until `afterReadyMs` past its start, kill -9s it, returns what it acknowledged. */
function runAndKill(dir: string, afterReadyMs: number): Promise<Array<[number, number]>> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let timer: NodeJS.Timeout | undefined;
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (timer === undefined && out.includes('ready')) timer = setTimeout(() => child.kill('SIGKILL'), afterReadyMs);
    });
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    const guard = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.on('exit', (_code, signal) => {
      clearTimeout(guard);
      if (timer !== undefined) clearTimeout(timer);
      if (signal !== 'SIGKILL') return reject(new Error(`writer exited on its own: ${err}`));
      // Only complete lines were acknowledged; a line cut by the kill is not.
      const lines = out.split('\n').slice(0, -1).filter((l) => !l.startsWith('ready'));
      resolve(lines.map((l) => l.split(' ').map(Number) as [number, number]));
    });
  });
}

describe(`storage crash safety: kill -9 of a syncing writer, ${KILLS} times`, function () {
  this.timeout(300_000);
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'kvd-test-crash-'));
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  it('every acknowledged entry survives intact, the hard state never goes back, the dir always opens', async () => {
    const random = seededRandom(20261124);
    const acknowledged = new Map<number, number>();
    let maxAcked = 0;
    for (let kill = 0; kill < KILLS; kill++) {
      for (const [index, term] of await runAndKill(dir, Math.floor(random() * 120))) {
        acknowledged.set(index, term);
        maxAcked = Math.max(maxAcked, index);
      }
      const storage = await DiskStorage.open(dir);
      try {
        assert.ok(storage.lastIndex() >= maxAcked, `kill ${kill}: log ends at ${storage.lastIndex()}, ${maxAcked} was acknowledged`);
        assert.ok(storage.initialState().hardState.commit >= maxAcked, `kill ${kill}: hard state commit ${storage.initialState().hardState.commit} < ${maxAcked}`);
        const entries = storage.lastIndex() > 0 ? storage.entries(1, storage.lastIndex() + 1, Infinity) : [];
        for (const [index, term] of acknowledged) {
          const entry = entries[index - 1];
          assert.ok(entry !== undefined && entry.term === term, `kill ${kill}: acknowledged entry ${index} (term ${term}) is missing or changed`);
          assert.deepEqual(entry.data, payloadFor(index, term), `kill ${kill}: entry ${index} is damaged`);
        }
      } finally {
        await storage.close();
      }
    }
    assert.ok(acknowledged.size > KILLS, `only ${acknowledged.size} entries were acknowledged in ${KILLS} runs`);
  });
});
