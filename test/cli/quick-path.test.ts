import assert from 'node:assert/strict';
import type { CommandModule } from 'yargs';
import yargs from 'yargs';
import { addGlobalOptions } from '../../src/cli/global-options.ts';
import type { QuickCommand } from '../../src/cli/quick-path.ts';
import { QUICK_COMMANDS, parseQuick } from '../../src/cli/quick-path.ts';

/** What yargs hands the command's handler for the same command line and environment. */
async function yargsArgv(args: readonly string[], env: NodeJS.ProcessEnv): Promise<Record<string, unknown>> {
  const saved = { ...process.env };
  for (const name of Object.keys(process.env)) if (name.startsWith('KVCTL_') || name.startsWith('ETCDCTL_')) delete process.env[name];
  Object.assign(process.env, env);
  try {
    let captured: Record<string, unknown> | undefined;
    const capture = (command: QuickCommand): CommandModule => ({
      ...(command.module as unknown as CommandModule),
      handler: (argv) => {
        captured = argv;
      },
    });
    const parser = QUICK_COMMANDS.reduce((y, command) => y.command(capture(command)), addGlobalOptions(yargs([...args])).env('KVCTL_').strict());
    await parser.parseAsync();
    return captured ?? {};
  } finally {
    for (const name of Object.keys(process.env)) if (!(name in saved)) delete process.env[name];
    Object.assign(process.env, saved);
  }
}

describe('kvctl quick path (get, put, del, ls without yargs)', () => {
  const taken: Array<[string[], NodeJS.ProcessEnv]> = [
    [['get', '/a'], {}],
    [['get', '-r', '--sorted', '/dir', '--consistency', 's'], {}],
    [['--endpoints', 'http://127.0.0.1:1,http://127.0.0.1:2', 'get', '/a', '-w', 'json'], {}],
    [['get', '/a', '--write-out=json', '--timeout=2s', '--debug'], {}],
    [['get', '/a'], { KVCTL_ENDPOINTS: 'http://127.0.0.1:9', KVCTL_WRITE_OUT: 'json', KVCTL_DEBUG: 'true' }],
    [['get', '/a'], { ETCDCTL_ENDPOINTS: 'http://127.0.0.1:7' }],
    [['get', '/a'], { ETCDCTL_ENDPOINTS: 'http://127.0.0.1:7', KVCTL_ENDPOINTS: 'http://127.0.0.1:8' }],
    [['get', '/a', '--endpoints', 'http://127.0.0.1:6'], { KVCTL_ENDPOINTS: 'http://127.0.0.1:8' }],
    [['put', '/a', '1'], {}],
    [['put', '/a', 'some value', '--ttl', '30', '--prev-value', 'old', '--prev-exist', 'true'], {}],
    [['set', '/a', '1'], {}],
    [['put', '/a'], {}],
    [['del', '/a', '-r'], {}],
    [['rm', '/a', '--dir', '--prev-index', '3'], {}],
    [['ls'], {}],
    [['ls', '/services', '-r', '-p'], {}],
    [['get', '/a', '--cacert', 'ca.pem', '--cert', 'c.pem', '--key', 'k.pem', '--insecure-skip-tls-verify'], {}],
  ];
  for (const [args, env] of taken) {
    it(`${Object.entries(env).map(([k, v]) => `${k}=${v} `).join('')}kvctl ${args.join(' ')}: the argv yargs would give`, async () => {
      const quick = parseQuick(args, env);
      assert.ok(quick !== undefined, 'the quick path takes it');
      const expected = await yargsArgv(args, env);
      for (const [name, value] of Object.entries(quick.argv)) assert.deepEqual(value, expected[name], name);
      const handled = Object.keys(expected).filter((name) => name !== '_' && name !== '$0' && !name.includes('-') && expected[name] !== undefined);
      assert.deepEqual(Object.keys(quick.argv).filter((name) => quick.argv[name] !== undefined).sort(), handled.filter((name) => name.length > 1 || name === 'p').sort());
    });
  }

  const leftToYargs: Array<[string[], NodeJS.ProcessEnv, string]> = [
    [['get', '/a', '--help'], {}, 'help'],
    [['get'], {}, 'a missing key'],
    [['get', '/a', '/b'], {}, 'an extra positional'],
    [['get', '/a', '--recursive=false'], {}, 'a boolean with a value'],
    [['get', '-r', 'true', '/a'], {}, 'a boolean followed by true'],
    [['get', '/a', '--no-sorted'], {}, 'a negated flag'],
    [['get', '/a', '-w', 'yaml'], {}, 'a value outside the choices'],
    [['get', '/a', '-w', 'json', '-w', 'table'], {}, 'a repeated option'],
    [['get', '/a', '--ttl', '3'], {}, 'another command\'s option'],
    [['get', '/a'], { KVCTL_FOO: '1' }, 'an unknown KVCTL_ variable'],
    [['get', '/a'], { KVCTL_DEBUG: '1' }, 'a boolean variable other than true/false'],
    [['get', '/a', '--timeout'], {}, 'an option without its value'],
    [['get', '-rw', 'json', '/a'], {}, 'grouped short options'],
    [['watch', '/a'], {}, 'another command'],
    [['put', '/a', '--', 'x'], {}, 'a -- separator'],
  ];
  for (const [args, env, what] of leftToYargs) {
    it(`leaves ${what} to yargs (kvctl ${args.join(' ')})`, () => assert.equal(parseQuick(args, env), undefined));
  }
});
