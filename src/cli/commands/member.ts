import type { Argv, CommandModule } from 'yargs';
import { parseDuration } from '../../api/duration.ts';
import type { MemberJson } from '../../client/members-client.ts';
import { MembersClient } from '../../client/members-client.ts';
import { UsageError } from '../errors.ts';
import type { GlobalArgs } from '../global-options.ts';
import { formatOf, transportFor } from '../global-options.ts';
import { ownOptionsFirst } from '../help-layout.ts';
import type { Io } from '../io.ts';
import { processIo } from '../io.ts';
import type { OutputFormat } from '../printers.ts';
import { OUTPUT_FORMATS, formatTable } from '../printers.ts';

export interface MemberDeps {
  readonly members: Pick<MembersClient, 'list' | 'leader' | 'add' | 'remove' | 'update' | 'promote' | 'transferLeadership'>;
  readonly io: Io;
}

function peerUrls(text: string): string[] {
  const urls = text.split(',').map((u) => u.trim()).filter((u) => u !== '');
  for (const url of urls) if (!/^https?:\/\/[^/]+:\d+\/?$/.test(url)) throw new UsageError(`"${url}" is not a peer URL (example: http://10.0.0.2:2380)`);
  if (urls.length === 0) throw new UsageError('give at least one peer URL');
  return urls;
}

export async function runMemberList(format: OutputFormat, deps: MemberDeps): Promise<void> {
  const [members, leader] = await Promise.all([deps.members.list(), deps.members.leader()]);
  if (format === 'json') {
    deps.io.out(JSON.stringify({ members, leader: leader?.id ?? null }));
    return;
  }
  if (format === 'simple') {
    for (const m of members) {
      const learner = m.isLearner ? ' isLearner=true' : '';
      deps.io.out(`${m.id}: name=${m.name} peerURLs=${m.peerURLs.join(',')} clientURLs=${m.clientURLs.join(',')} isLeader=${m.id === leader?.id}${learner}`);
    }
    return;
  }
  const rows = [['ID', 'NAME', 'PEER URLS', 'CLIENT URLS', 'ROLE']];
  for (const m of members) rows.push([m.id, m.name || '(not started)', m.peerURLs.join(','), m.clientURLs.join(','), m.id === leader?.id ? 'leader' : m.isLearner ? 'learner' : 'voter']);
  for (const line of formatTable(rows)) deps.io.out(line);
}

export async function runMemberAdd(options: { name: string; peerURLs: string[]; learner: boolean; format: OutputFormat }, deps: MemberDeps): Promise<void> {
  const added = await deps.members.add(options.peerURLs, options.learner);
  if (options.format === 'json') {
    deps.io.out(JSON.stringify(added));
    return;
  }
  const members = await deps.members.list();
  const cluster = members.map((m) => `${m.id === added.id ? options.name : m.name}=${m.peerURLs[0]}`).join(',');
  deps.io.out(`Added member named ${options.name} with ID ${added.id} to cluster${options.learner ? ' as a learner' : ''}`);
  deps.io.out('');
  deps.io.out('Start it with:');
  deps.io.out(`kvd serve --name ${options.name} --listen-peer-urls ${options.peerURLs[0]} --initial-cluster ${cluster} --initial-cluster-state existing`);
}

async function simpleAction(format: OutputFormat, deps: MemberDeps, act: () => Promise<MemberJson | void>, message: (m: MemberJson | void) => string): Promise<void> {
  const result = await act();
  deps.io.out(format === 'json' ? JSON.stringify(result ?? {}) : message(result));
}

interface MemberArgs extends GlobalArgs {
  name?: string;
  id?: string;
  peerUrls?: string;
  learner?: boolean;
}

function withMembers(argv: GlobalArgs, run: (deps: MemberDeps) => Promise<void>): Promise<void> {
  const transport = transportFor(argv, processIo);
  const members = new MembersClient(transport, parseDuration(argv.timeout));
  return run({ members, io: processIo }).finally(() => transport.close());
}

/** yargs' subcommand typings drop the global options; every handler gets them at run time. */
const args = (argv: unknown) => argv as MemberArgs;

export const memberCommand: CommandModule<GlobalArgs, MemberArgs> = {
  command: 'member <command>',
  describe: 'list and change the cluster\'s members',
  builder: (yargs) =>
    (yargs as Argv<GlobalArgs>)
      .command('list', 'list the members (a table unless -w simple|json)', (y: Argv) => y.example('$0 member list', 'a table of the members').example('$0 member list -w json', 'for scripts'), (argv) => withMembers(args(argv), (deps) => runMemberList(formatOf(args(argv), 'table', OUTPUT_FORMATS), deps)))
      .command(
        'add <name> <peer-urls>',
        'add a member (then start it with --initial-cluster-state existing)',
        (y: Argv) =>
          ownOptionsFirst(y)
            .positional('name', { type: 'string', demandOption: true })
            .positional('peer-urls', { type: 'string', demandOption: true, describe: 'comma-separated' })
            .option('learner', { type: 'boolean', default: false, describe: 'add it as a learner: it gets the log but does not vote until promoted' })
            .example('$0 member add m4 http://10.0.0.4:2380 --learner', 'add a learner, then start it with --initial-cluster-state existing'),
        (argv) => {
          const a = args(argv);
          return withMembers(a, (deps) => runMemberAdd({ name: a.name!, peerURLs: peerUrls(a.peerUrls!), learner: a.learner === true, format: formatOf(a) }, deps));
        },
      )
      .command('remove <id>', 'remove a member (the leader too: it steps down)', (y: Argv) => y.positional('id', { type: 'string', demandOption: true }).example('$0 member remove 8e9e05c52164694d', 'remove a member by its ID (from member list)'), (argv) => {
        const a = args(argv);
        return withMembers(a, (deps) => simpleAction(formatOf(a), deps, () => deps.members.remove(a.id!), () => `Removed member ${a.id!} from cluster`));
      })
      .command('update <id> <peer-urls>', 'change a member\'s peer URLs', (y: Argv) => y.positional('id', { type: 'string', demandOption: true }).positional('peer-urls', { type: 'string', demandOption: true }).example('$0 member update 8e9e05c52164694d http://10.0.0.5:2380', 'the member moved to another address'), (argv) => {
        const a = args(argv);
        return withMembers(a, (deps) => simpleAction(formatOf(a), deps, () => deps.members.update(a.id!, peerUrls(a.peerUrls!)), () => `Updated member with ID ${a.id!} in cluster`));
      })
      .command('promote <id>', 'make a learner a voter (refused while it lags behind the leader)', (y: Argv) => y.positional('id', { type: 'string', demandOption: true }).example('$0 member promote 8e9e05c52164694d', 'the learner votes from now on'), (argv) => {
        const a = args(argv);
        return withMembers(a, (deps) => simpleAction(formatOf(a), deps, () => deps.members.promote(a.id!), (m) => `Promoted member ${a.id!}${m ? ` (${m.name})` : ''} to voter`));
      })
      .command('transfer-leader <id>', 'hand leadership to a member (kvd extension)', (y: Argv) => y.positional('id', { type: 'string', demandOption: true }).example('$0 member transfer-leader 8e9e05c52164694d', 'before restarting the current leader'), (argv) => {
        const a = args(argv);
        return withMembers(a, (deps) => simpleAction(formatOf(a), deps, () => deps.members.transferLeadership(a.id!), (m) => `Leadership transferred to ${a.id!}${m ? ` (${m.name})` : ''}`));
      })
      .demandCommand(1, 'name a member command: list, add, remove, update, promote, transfer-leader')
      .example('$0 member list', 'a table of the members')
      .example('$0 member add m4 http://10.0.0.4:2380 --learner', 'add a learner') as unknown as Argv<MemberArgs>,
  handler: () => undefined,
};
