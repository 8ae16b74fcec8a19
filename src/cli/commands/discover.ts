import type { Argv, CommandModule } from 'yargs';
import type { Instance } from '../../client/services.ts';
import { listInstances, pickRoundRobin, serviceDir } from '../../client/services.ts';
import { nextChangeBelow } from '../../client/watcher.ts';
import { NothingFound, UsageError } from '../errors.ts';
import type { GlobalArgs } from '../global-options.ts';
import { formatOf } from '../global-options.ts';
import { processIo } from '../io.ts';
import type { OutputFormat } from '../printers.ts';
import type { SessionDeps } from '../run-keys-command.ts';
import { runSessionCommand } from '../run-keys-command.ts';
import { prefixOption, segmentName } from '../session-options.ts';

export const PICKS = ['random', 'round-robin'] as const;
export type PickMode = (typeof PICKS)[number];

export interface DiscoverOptions {
  readonly prefix: string;
  readonly service: string;
  readonly watch: boolean;
  readonly pick?: PickMode;
  readonly format: OutputFormat;
  /** Used by --pick random; tests pass their own. */
  readonly random?: () => number;
}

function formatInstance(instance: Instance, format: OutputFormat, change = ''): string {
  if (format === 'json') return JSON.stringify(change === '' ? instance : { change: change === '+' ? 'up' : 'down', ...instance });
  return change === '-' ? `- ${instance.name}` : `${change === '' ? '' : `${change} `}${instance.name} ${instance.address}`;
}

/**
 * Lists the live instances of SERVICE (`name address` per line); with `pick`, prints one address
 * (random, or round-robin shared by every client); with `watch`, then prints each change as
 * `+ name address` or `- name` until signalled.
 */
export async function runDiscover(options: DiscoverOptions, deps: SessionDeps): Promise<void> {
  const dir = serviceDir(options.prefix, options.service);
  const { instances, etcdIndex } = await listInstances(deps.client, dir, true);
  if (options.pick !== undefined) {
    if (instances.length === 0) throw new NothingFound(`service ${options.service} has no live instance (under ${dir})`);
    const chosen = options.pick === 'random' ? instances[Math.floor((options.random ?? Math.random)() * instances.length)]! : await pickRoundRobin(deps.client, options.service, instances);
    deps.io.out(options.format === 'json' ? JSON.stringify(chosen) : chosen.address);
    return;
  }
  for (const instance of instances) deps.io.out(formatInstance(instance, options.format));
  if (!options.watch) {
    if (instances.length === 0) throw new NothingFound(`service ${options.service} has no live instance (under ${dir})`);
    return;
  }
  let known = new Map(instances.map((i) => [i.name, i]));
  let index = etcdIndex;
  for (;;) {
    await nextChangeBelow(deps.client, dir, index, deps.signal);
    const now = await listInstances(deps.client, dir, true);
    index = now.etcdIndex;
    const current = new Map(now.instances.map((i) => [i.name, i]));
    for (const [name, instance] of known) if (!current.has(name)) deps.io.out(formatInstance(instance, options.format, '-'));
    for (const [name, instance] of current) if (known.get(name)?.address !== instance.address) deps.io.out(formatInstance(instance, options.format, '+'));
    known = current;
  }
}

interface DiscoverArgs extends GlobalArgs {
  service: string;
  watch: boolean;
  pick?: PickMode;
  prefix: string;
}

export const discoverCommand: CommandModule<GlobalArgs, DiscoverArgs> = {
  command: 'discover <service>',
  describe: 'list the live instances of a service, pick one, or follow changes',
  builder: (yargs) =>
    prefixOption(yargs as Argv<GlobalArgs>)
      .positional('service', { type: 'string', demandOption: true })
      .option('watch', { type: 'boolean', default: false, describe: 'then print each change: "+ name address" or "- name"' })
      .option('pick', { choices: PICKS, describe: 'print one instance\'s address: random, or round-robin across all clients' })
      .example('$0 discover web', 'one "name address" line per live instance (exit 2 when none)')
      .example('curl -s localhost:2379/v2/keys/services/web', 'the same with curl')
      .example('$0 discover web --pick round-robin', 'the next instance in turn') as unknown as Argv<DiscoverArgs>,
  handler: (argv) => {
    if (argv.watch && argv.pick !== undefined) throw new UsageError('--watch and --pick do not go together');
    const options: DiscoverOptions = { prefix: argv.prefix, service: segmentName('the service name', argv.service), watch: argv.watch, ...(argv.pick ? { pick: argv.pick } : {}), format: formatOf(argv) };
    return runSessionCommand(argv, processIo, (deps) => runDiscover(options, deps));
  },
};
