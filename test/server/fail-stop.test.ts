import assert from 'node:assert/strict';
import http from 'node:http';
import { StorageFailedError } from '../../src/storage/errors.ts';
import { FailStop } from '../../src/server/fail-stop.ts';
import { Logger } from '../../src/server/logger.ts';

function listening(): Promise<http.Server> {
  const server = http.createServer((_req, res) => res.end('ok'));
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

describe('FailStop', () => {
  it('on the first fatal cause: one error line naming it and what to do, every listener closed, halted resolves', async () => {
    const lines: string[] = [];
    const failStop = new FailStop(new Logger('info', 'text', (line) => lines.push(line)));
    const servers = [await listening(), await listening()];
    for (const server of servers) failStop.guard(server);
    const full = new StorageFailedError('/data', new Error('IO error: /data/000003.log: No space left on device'));
    failStop.fatal('cannot persist or apply', full);
    failStop.fatal('the Raft core failed on a tick', new Error('later'));
    await failStop.halted;
    for (const server of servers) assert.equal(server.listening, false);
    assert.equal(lines.length, 1, lines.join('\n'));
    assert.match(lines[0]!, /ERROR fail-stop: cannot persist or apply; this member exits cause=".*No space left on device.*" fix="free space on the disk of --data-dir/);
    assert.doesNotMatch(lines[0]!, /stack=/);
  });

  it('a bug is logged with its stack; a listener opened after the cause is closed at once', async () => {
    const lines: string[] = [];
    const failStop = new FailStop(new Logger('info', 'text', (line) => lines.push(line)));
    failStop.fatal('the Raft core failed on a peer message', new Error('raft: invalid transition follower -> leader'));
    await failStop.halted;
    const late = await listening();
    failStop.guard(late);
    assert.equal(late.listening, false);
    assert.match(lines[0]!, /cause="raft: invalid transition follower -> leader" stack=/);
  });
});
