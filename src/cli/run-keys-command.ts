import { UnavailableError } from '../client/errors.ts';
import type { HttpTransport } from '../client/http-transport.ts';
import type { KeysClient } from '../client/keys-client.ts';
import { countAnswering, mayBeQuorumLoss } from '../client/quorum-check.ts';
import type { GlobalArgs, KeysDeps } from './global-options.ts';
import { connect } from './global-options.ts';
import type { Io } from './io.ts';
import { untilSignalled } from './signals.ts';

/** What a command's request needs from the cluster, for the message when it has lost quorum. */
export type Needs = 'a write' | 'a linearizable read';

/** Connects with the global options, runs one keys command, and closes the connections. */
export async function runKeysCommand(args: GlobalArgs, io: Io, run: (deps: KeysDeps) => Promise<void>, needs: Needs = 'a write'): Promise<void> {
  const { client, transport } = connect(args, io);
  try {
    await run({ client, io });
  } catch (error) {
    throw await explainQuorumLoss(error, transport, needs);
  } finally {
    transport.close();
  }
}

/** How long each endpoint gets to answer when kvctl counts the members that answer. */
const QUORUM_CHECK_TIMEOUT_MS = 2000;

/**
 * A request that found no leader ("no endpoint answered", a member's "request timed out") becomes
 * "no leader: 1 of 3 members answer; a write needs 2" when too few members answer; any other
 * error is returned as it is.
 */
export async function explainQuorumLoss(error: unknown, transport: HttpTransport, needs: Needs): Promise<unknown> {
  if (!mayBeQuorumLoss(error)) return error;
  const count = await countAnswering(transport, QUORUM_CHECK_TIMEOUT_MS);
  if (count === undefined || count.answering >= count.quorum) return error;
  const readHint = needs === 'a linearizable read' ? ' (--consistency s reads one member\'s own data)' : '';
  // A write that reached a member before it timed out may still be committed once quorum is back.
  const outcome = error instanceof Error && /may or may not have been applied/.test(error.message) ? ' (the request may or may not have been applied)' : '';
  return new UnavailableError(`no leader: ${count.answering} of ${count.voters} members answer; ${needs} needs ${count.quorum}${readHint}${outcome}`);
}

/** What a long-running command (watch, lock, elect, queue, register, discover) needs. */
export interface SessionDeps {
  readonly client: KeysClient;
  readonly io: Io;
  /** Aborts with Interrupted on SIGINT, SIGTERM or SIGHUP. */
  readonly signal: AbortSignal;
}

/** As runKeysCommand, for commands that run until they are done or signalled. */
export async function runSessionCommand(args: GlobalArgs, io: Io, run: (deps: SessionDeps) => Promise<void>): Promise<void> {
  const { client, transport } = connect(args, io);
  const { signal, dispose } = untilSignalled();
  try {
    await run({ client, io, signal });
  } catch (error) {
    throw await explainQuorumLoss(error, transport, 'a write');
  } finally {
    dispose();
    transport.close();
  }
}
