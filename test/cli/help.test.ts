import assert from 'node:assert/strict';
import { kvctlParser } from '../../src/cli/kvctl.ts';
import { KVCTL_BIN, run } from '../helpers/binary.ts';

/** What `kvctl WORDS... --help` prints, from the command tree in this process. */
function helpOf(words: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    kvctlParser([]).parse([...words, '--help'], {}, (error, _argv, output) => (error ? reject(error) : resolve(output)));
  });
}

/** The commands a help text lists under "Commands:", as words (`member list` -> ['member', 'list']). */
function commandsListed(help: string): string[][] {
  const section = help.split('\nCommands:\n')[1]?.split('\n\n')[0] ?? '';
  return section
    .split('\n')
    .map((line) => /^ {2}kvctl ((?:[a-z][\w-]* ?)+?)(?= [<[]| {2,}|$)/.exec(line)?.[1]?.trim().split(' '))
    .filter((words): words is string[] => words !== undefined);
}

describe('kvctl --help of every command', () => {
  it('every command and subcommand has examples, and its own options before the global ones', async () => {
    const pending = commandsListed(await helpOf([]));
    assert.ok(pending.length > 15, `the root lists the commands: ${pending.length}`);
    const checked: string[] = [];
    while (pending.length > 0) {
      const words = pending.shift()!;
      const help = await helpOf(words);
      const subcommands = commandsListed(help).filter((sub) => sub.length > words.length);
      pending.push(...subcommands);
      checked.push(words.join(' '));
      assert.match(help, /\nExamples:\n/, `kvctl ${words.join(' ')} --help has examples`);
      const own = help.indexOf('\nOptions:\n');
      if (own >= 0) assert.ok(own < help.indexOf('\nGlobal options:\n'), `kvctl ${words.join(' ')}: its own options come first`);
    }
    for (const sub of ['member list', 'endpoint status', 'queue pop', 'bench watch']) assert.ok(checked.includes(sub), sub);
  });

  it('a command group named without a subcommand lists its subcommands and exits 1', async () => {
    for (const [group, sub] of [['member', 'list'], ['endpoint', 'status'], ['queue', 'push'], ['bench', 'watch']]) {
      const result = await run(KVCTL_BIN, [group!]);
      assert.equal(result.code, 1, group);
      assert.match(result.stderr, new RegExp(`\n {2}kvctl ${group} ${sub}`), group);
      assert.match(result.stderr, /\nError: name a command \(the list is above\)\n/, group);
    }
  });
});
