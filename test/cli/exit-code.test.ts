import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ApiError, EtcdError, ProtocolError, UnavailableError } from '../../src/client/errors.ts';
import { LeaseLostError } from '../../src/client/lease.ts';
import { HistoryClearedError } from '../../src/client/watcher.ts';
import { NothingFound, UsageError, describeError, exitCodeFor } from '../../src/cli/errors.ts';
import { Interrupted } from '../../src/cli/signals.ts';
import { EXIT_CODE_DOCS, ExitCode } from '../../src/cli/exit-code.ts';
import { ROOT } from '../helpers/binary.ts';

const etcdError = (errorCode: number, status = 400) => new EtcdError({ errorCode, message: 'm', cause: 'c', index: 7 }, status);

describe('exit codes', () => {
  const cases: Array<[string, unknown, number]> = [
    ['a usage error', new UsageError('x'), ExitCode.USAGE],
    ['a bad flag value', new RangeError('x'), ExitCode.USAGE],
    ['key not found (100)', etcdError(100, 404), ExitCode.KEY_NOT_FOUND],
    ['compare failed (101)', etcdError(101, 412), ExitCode.PRECONDITION_FAILED],
    ['key already exists (105)', etcdError(105, 412), ExitCode.PRECONDITION_FAILED],
    ['not a file (102)', etcdError(102, 403), ExitCode.REJECTED],
    ['directory not empty (108)', etcdError(108, 403), ExitCode.REJECTED],
    ['an invalid field (209)', etcdError(209), ExitCode.REJECTED],
    ['raft internal (300)', etcdError(300, 500), ExitCode.UNAVAILABLE],
    ['no endpoint answered', new UnavailableError('x'), ExitCode.UNAVAILABLE],
    ['a reply that is not the v2 API', new ProtocolError('x'), ExitCode.UNAVAILABLE],
    ['a watch behind the history (401)', etcdError(401), ExitCode.HISTORY_CLEARED],
    ['a watch that lost events', new HistoryClearedError(5, 'cleared'), ExitCode.HISTORY_CLEARED],
    ['a lost lock session', new LeaseLostError('x'), ExitCode.SESSION_LOST],
    ['an empty queue', new NothingFound('x'), ExitCode.KEY_NOT_FOUND],
    ['a read-only proxy refusing a write (501)', new ApiError(501, 'x'), ExitCode.REJECTED],
    ['a server error (503)', new ApiError(503, 'x'), ExitCode.UNAVAILABLE],
    ['SIGINT', new Interrupted('SIGINT'), 130],
    ['SIGTERM', new Interrupted('SIGTERM'), 143],
    ['a bug', new TypeError('x'), ExitCode.INTERNAL],
  ];
  for (const [what, error, code] of cases) {
    it(`${what} exits ${code}`, () => assert.equal(exitCodeFor(error), code));
  }

  it('a server error is one line: code, message, cause, index', () => {
    assert.equal(describeError(etcdError(100, 404)), 'Error: 100: m (c) [7]');
    assert.equal(describeError(new EtcdError({ errorCode: 102, message: 'Not a file', index: 3 }, 403)), 'Error: 102: Not a file [3]');
  });

  it('README.md documents exactly the table that --help prints', () => {
    const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const rows = [...readme.matchAll(/^\| (\d+) \| `(\w+)` \| (.+) \|$/gm)].map((m) => [Number(m[1]), m[2], m[3]]);
    const expected = Object.entries(ExitCode).map(([name, code]) => [code, name, EXIT_CODE_DOCS[code]]);
    assert.deepEqual(rows, expected);
  });
});
