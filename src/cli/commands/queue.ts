import type { Argv, CommandModule } from 'yargs';
import { normalizeKey } from '../../api/key-path.ts';
import { popItem, pushCounted, waitForItems, waitForPushed } from '../../client/queue.ts';
import { childrenInOrder } from '../../client/turn.ts';
import { NothingFound, UsageError } from '../errors.ts';
import type { GlobalArgs } from '../global-options.ts';
import { formatOf } from '../global-options.ts';
import { ownOptionsFirst } from '../help-layout.ts';
import { processIo } from '../io.ts';
import type { OutputFormat } from '../printers.ts';
import type { SessionDeps } from '../run-keys-command.ts';
import { runSessionCommand } from '../run-keys-command.ts';

/** Appends VALUE to queue Q (an in-order key below Q), `counted`: raising its pushed counter too; prints the item's key. */
export async function runQueuePush(options: { queue: string; value: string; counted?: boolean; format: OutputFormat }, deps: SessionDeps): Promise<void> {
  const node = options.counted ? (await pushCounted(deps.client, options.queue, options.value)).item : (await deps.client.createInOrder(options.queue, options.value)).event.node!;
  deps.io.out(options.format === 'json' ? JSON.stringify(node) : node.key!);
}

/** Takes the oldest item and prints its value; an empty queue is NothingFound unless `wait`. */
export async function runQueuePop(options: { queue: string; wait: boolean; takenDir?: string; format: OutputFormat }, deps: SessionDeps): Promise<void> {
  const item = await popItem(deps.client, options.queue, { wait: options.wait, signal: deps.signal, ...(options.takenDir !== undefined ? { takenDir: options.takenDir } : {}) });
  if (item === undefined) throw new NothingFound(`queue ${options.queue} is empty`);
  deps.io.out(options.format === 'json' ? JSON.stringify(item) : (item.value ?? ''));
}

/** Blocks until the queue holds at least `count` items (`pushed`: had that many pushed with push --counted); prints how many. */
export async function runQueueWait(options: { queue: string; count: number; pushed?: boolean; format: OutputFormat }, deps: SessionDeps): Promise<void> {
  const wait = options.pushed ? waitForPushed : waitForItems;
  const held = await wait(deps.client, options.queue, options.count, deps.signal);
  deps.io.out(options.format === 'json' ? JSON.stringify({ queue: options.queue, items: held }) : String(held));
}

/** Prints the items, oldest first, without taking them. */
export async function runQueueList(options: { queue: string; format: OutputFormat }, deps: SessionDeps): Promise<void> {
  const { children } = await childrenInOrder(deps.client, options.queue);
  if (options.format === 'json') deps.io.out(JSON.stringify(children));
  else for (const item of children) deps.io.out(`${item.key}=${item.value ?? ''}`);
}

interface QueueArgs extends GlobalArgs {
  queue?: string;
  value?: string;
  wait?: boolean;
  count?: number;
  taken?: string;
  counted?: boolean;
  pushed?: boolean;
}

const args = (argv: unknown) => argv as QueueArgs & { queue: string };

function run(argv: unknown, verb: (queue: string, a: QueueArgs, deps: SessionDeps) => Promise<void>): Promise<void> {
  const a = args(argv);
  const queue = normalizeKey(a.queue);
  if (queue === '/') throw new UsageError('a queue is a directory below the root, e.g. /jobs');
  return runSessionCommand(a, processIo, (deps) => verb(queue, a, deps));
}

export const queueCommand: CommandModule<GlobalArgs, QueueArgs> = {
  command: 'queue <command>',
  describe: 'a distributed FIFO queue: push, pop, wait, list',
  builder: (yargs) =>
    (yargs as Argv<GlobalArgs>)
      .command('push <queue> <value>', 'append an item; prints its key', (y: Argv) => ownOptionsFirst(y).positional('queue', { type: 'string', demandOption: true }).positional('value', { type: 'string', demandOption: true })
        .option('counted', { type: 'boolean', default: false, describe: 'also raise the queue\'s pushed counter, in the same transaction (kvd only): for wait --pushed' })
        .example('$0 queue push /jobs "resize img42"', 'enqueue a job'), (argv) =>
        run(argv, (queue, a, deps) => runQueuePush({ queue, value: String(a.value), counted: a.counted === true, format: formatOf(a) }, deps)),
      )
      .command('pop <queue>', 'take the oldest item; prints its value (exit 2 when empty)', (y: Argv) => ownOptionsFirst(y).positional('queue', { type: 'string', demandOption: true }).option('wait', { type: 'boolean', default: false, describe: 'wait for an item when the queue is empty' })
        .option('taken', { type: 'string', describe: 'move the item below this directory in the same step (kvd\'s transactions), to delete when its work is done' })
        .example('$0 queue pop /jobs --wait', 'take the oldest job, waiting for one')
        .example('$0 queue pop /jobs --taken /jobs-taken', 'take a job and keep it under /jobs-taken until its work is done'), (argv) =>
        run(argv, (queue, a, deps) => runQueuePop({ queue, wait: a.wait === true, format: formatOf(a), ...(a.taken !== undefined ? { takenDir: normalizeKey(a.taken) } : {}) }, deps)),
      )
      .command('wait <queue>', 'block until the queue holds --count items', (y: Argv) => ownOptionsFirst(y).positional('queue', { type: 'string', demandOption: true }).option('count', { type: 'number', demandOption: true, describe: 'how many items to wait for' })
        .option('pushed', { type: 'boolean', default: false, describe: 'count the items ever pushed with push --counted (a barrier that taking items does not undo), not those held now' })
        .example('$0 queue wait /jobs --count 10', 'block until 10 jobs are ready'), (argv) => {
        const count = args(argv).count!;
        if (!(Number.isInteger(count) && count >= 1)) throw new UsageError(`--count must be a whole number, at least 1, not ${count}`);
        return run(argv, (queue, a, deps) => runQueueWait({ queue, count, pushed: a.pushed === true, format: formatOf(a) }, deps));
      })
      .command('list <queue>', 'print the items, oldest first, without taking them', (y: Argv) => y.positional('queue', { type: 'string', demandOption: true }).example('$0 queue list /jobs -w json', 'the items as JSON'), (argv) =>
        run(argv, (queue, a, deps) => runQueueList({ queue, format: formatOf(a) }, deps)),
      )
      .demandCommand(1, 'name a queue command: push, pop, wait, list')
      .example('$0 queue push /jobs "resize img42"', 'enqueue')
      .example('$0 queue pop /jobs --wait', 'take the oldest job, waiting for one; concurrent poppers never get the same item')
      .example('$0 queue pop /jobs --taken /jobs-taken', 'take the oldest job into /jobs-taken/<same name> atomically; delete it there when done')
      .example('$0 queue wait /jobs --count 10', 'block until 10 jobs are ready')
      .example('$0 queue push /parts p1 --counted; $0 queue wait /parts --count 10 --pushed', 'a barrier: the big task starts once 10 parts were pushed, even if some were taken already') as unknown as Argv<QueueArgs>,
  handler: () => undefined,
};
