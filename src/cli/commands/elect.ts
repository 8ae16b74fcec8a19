import type { Argv, CommandModule } from 'yargs';
import { observeLeader } from '../../client/election.ts';
import { KVCTL_DIR } from '../../client/services.ts';
import { takeTurn } from '../../client/turn.ts';
import { UsageError } from '../errors.ts';
import type { GlobalArgs } from '../global-options.ts';
import { formatOf } from '../global-options.ts';
import { processIo } from '../io.ts';
import type { OutputFormat } from '../printers.ts';
import type { SessionDeps } from '../run-keys-command.ts';
import { runSessionCommand } from '../run-keys-command.ts';
import { checkTtl, holdUntil, segmentName, ttlOption } from '../session-options.ts';

export const ELECTIONS_DIR = `${KVCTL_DIR}/elections`;

export interface ElectOptions {
  readonly name: string;
  readonly proposal: string;
  readonly ttlSeconds: number;
  readonly format: OutputFormat;
}

/**
 * Campaigns in election NAME with PROPOSAL: waits its turn behind earlier candidates, prints the
 * proposal once elected, and leads until signalled (then steps down, and the next candidate leads).
 */
export async function runElect(options: ElectOptions, deps: SessionDeps): Promise<void> {
  const turn = await takeTurn(deps.client, `${ELECTIONS_DIR}/${options.name}`, options.proposal, {
    ttlSeconds: options.ttlSeconds,
    signal: deps.signal,
    warn: (message) => deps.io.err(`warning: ${message}`),
  });
  try {
    deps.io.out(options.format === 'json' ? JSON.stringify({ name: options.name, leader: options.proposal, key: turn.key }) : options.proposal);
    await holdUntil(deps.signal, turn.lost);
  } finally {
    await turn.release().catch((error: Error) => deps.io.err(`warning: could not step down (${error.message}); leadership expires in ${options.ttlSeconds}s`));
  }
}

/** Prints the election's leader (its proposal; an empty line when there is none) and each change, until signalled. */
export async function runElectListen(options: { readonly name: string; readonly format: OutputFormat }, deps: SessionDeps): Promise<void> {
  for await (const leader of observeLeader(deps.client, `${ELECTIONS_DIR}/${options.name}`, deps.signal)) {
    deps.io.out(options.format === 'json' ? JSON.stringify({ name: options.name, leader: leader?.proposal ?? null, key: leader?.key ?? null }) : (leader?.proposal ?? ''));
  }
}

interface ElectArgs extends GlobalArgs {
  name: string;
  proposal?: string;
  listen: boolean;
  ttl: number;
}

export const electCommand: CommandModule<GlobalArgs, ElectArgs> = {
  command: 'elect <name> [proposal]',
  describe: 'campaign to lead election NAME with PROPOSAL, or --listen to its leader',
  builder: (yargs) =>
    ttlOption(yargs as Argv<GlobalArgs>, 'leadership', 10)
      .positional('name', { type: 'string', demandOption: true, describe: 'the election (kept under /_kvctl/elections/)' })
      .positional('proposal', { type: 'string', describe: 'what this candidate offers, e.g. its address' })
      .option('listen', { alias: 'l', type: 'boolean', default: false, describe: 'print the current leader\'s proposal and every change' })
      .example('$0 elect scheduler 10.0.0.5:8080', 'print the proposal once elected; lead until Ctrl-C or SIGTERM')
      .example('$0 elect --listen scheduler', 'follow who leads') as unknown as Argv<ElectArgs>,
  handler: (argv) => {
    const name = segmentName('the election name', argv.name);
    if (argv.listen) {
      if (argv.proposal !== undefined) throw new UsageError('--listen takes no proposal');
      return runSessionCommand(argv, processIo, (deps) => runElectListen({ name, format: formatOf(argv) }, deps));
    }
    if (argv.proposal === undefined) throw new UsageError('give a proposal to campaign with, or --listen');
    const options: ElectOptions = { name, proposal: argv.proposal, ttlSeconds: checkTtl(argv.ttl), format: formatOf(argv) };
    return runSessionCommand(argv, processIo, (deps) => runElect(options, deps));
  },
};
