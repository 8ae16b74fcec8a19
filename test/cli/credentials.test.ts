import assert from 'node:assert/strict';
import { authorizationFor, nameAndPassword } from '../../src/cli/credentials.ts';
import { UsageError } from '../../src/cli/errors.ts';

const decoded = (header: string | undefined) => Buffer.from(header!.replace(/^Basic /, ''), 'base64').toString('utf8');

describe('kvctl --user NAME[:PASSWORD]', () => {
  it('sends HTTP Basic credentials; the password may hold colons', () => {
    assert.equal(decoded(authorizationFor('bob:pw:x', () => assert.fail('not asked'))), 'bob:pw:x');
    assert.equal(authorizationFor(undefined), undefined);
  });

  it('asks for a left-out password (on the terminal), never taking it from the arguments', () => {
    const prompts: string[] = [];
    assert.equal(decoded(authorizationFor('bob', (prompt) => (prompts.push(prompt), 'typed'))), 'bob:typed');
    assert.deepEqual(prompts, ['Password for bob: ']);
  });

  it('refuses an empty user name, and an empty new password', () => {
    assert.throws(() => authorizationFor(':pw'), UsageError);
    assert.throws(() => nameAndPassword('bob', () => ''), UsageError);
    assert.deepEqual(nameAndPassword('bob:new'), { name: 'bob', password: 'new' });
  });
});
