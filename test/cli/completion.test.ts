import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { COMPLETION_SHELLS, completionScript } from '../../src/cli/kvctl.ts';
import { KVCTL_BIN, ROOT, run } from '../helpers/binary.ts';

describe('shell completions', () => {
  for (const shell of COMPLETION_SHELLS) {
    it(`completions/kvctl.${shell} is what 'kvctl completion ${shell}' prints (regenerate: make completions)`, async () => {
      const committed = readFileSync(path.join(ROOT, 'completions', `kvctl.${shell}`), 'utf8');
      assert.equal(committed, `${(await completionScript(shell)).trimEnd()}\n`);
    });
  }

  it('the executable completes commands and their options from the command tree', async () => {
    const commands = await run(KVCTL_BIN, ['--get-yargs-completions', 'kvctl', '']);
    assert.deepEqual(commands.stdout.split('\n').filter((w) => !w.startsWith('-') && w !== ''), ['get', 'put', 'del', 'ls', 'mkdir', 'mk', 'update', 'rmdir', 'txn', 'member', 'watch', 'lock', 'elect', 'queue', 'register', 'discover', 'endpoint', 'status', 'bench', 'user', 'role', 'auth', 'snapshot', 'export', 'import', 'mirror', 'version', 'completion']);
    const queue = await run(KVCTL_BIN, ['--get-yargs-completions', 'kvctl', 'queue', '']);
    assert.deepEqual(queue.stdout.split('\n').filter((w) => !w.startsWith('-') && w !== ''), ['push', 'pop', 'wait', 'list']);
    const snapshot = await run(KVCTL_BIN, ['--get-yargs-completions', 'kvctl', 'snapshot', '']);
    assert.deepEqual(snapshot.stdout.split('\n').filter((w) => !w.startsWith('-') && w !== ''), ['save', 'status', 'restore']);
    const options = await run(KVCTL_BIN, ['--get-yargs-completions', 'kvctl', 'get', '--']);
    for (const option of ['--recursive', '--sorted', '--consistency', '--endpoints']) assert.ok(options.stdout.includes(`${option}\n`), option);
  });
});
