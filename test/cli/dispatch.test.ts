import assert from 'node:assert/strict';
import { programFor, route } from '../../src/cli/dispatch.ts';

describe('dispatch on the invoked name', () => {
  const cases: Array<[string, string | undefined, string]> = [
    ['kvctl', undefined, 'kvctl'],
    ['./bin/kvctl', undefined, 'kvctl'],
    ['/usr/local/bin/kvd', undefined, 'kvd'],
    ['node', '/x/dist/kvctl.mjs', 'kvctl'],
    ['node', '/x/src/main.ts', 'kvd'],
    ['something-else', undefined, 'kvd'],
  ];
  for (const [argv0, script, expected] of cases) {
    it(`argv0 ${argv0}${script ? ` with script ${script}` : ''} runs ${expected}`, () =>
      assert.equal(programFor(argv0, script), expected));
  }

  it('kvd ctl ... runs kvctl with the rest', () =>
    assert.deepEqual(route('kvd', ['ctl', 'get', 'a']), { program: 'kvctl', args: ['get', 'a'] }));
  it('kvctl serve ... runs kvd serve', () =>
    assert.deepEqual(route('kvctl', ['serve', '--name', 'x']), { program: 'kvd', args: ['serve', '--name', 'x'] }));
  it('other arguments stay with the invoked program', () =>
    assert.deepEqual(route('kvctl', ['get', 'ctl']), { program: 'kvctl', args: ['get', 'ctl'] }));
});
