import type { KeysClient } from '../client/keys-client.ts';
import type { GlobalArgs, KeysDeps } from './global-options.ts';
import { connect } from './global-options.ts';
import type { Io } from './io.ts';
import { untilSignalled } from './signals.ts';

/** Connects with the global options, runs one keys command, and closes the connections. */
export async function runKeysCommand(args: GlobalArgs, io: Io, run: (deps: KeysDeps) => Promise<void>): Promise<void> {
  const { client, transport } = connect(args, io);
  try {
    await run({ client, io });
  } finally {
    transport.close();
  }
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
  } finally {
    dispose();
    transport.close();
  }
}
