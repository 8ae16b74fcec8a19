import type { GlobalArgs, KeysDeps } from './global-options.ts';
import { connect } from './global-options.ts';
import type { Io } from './io.ts';

/** Connects with the global options, runs one keys command, and closes the connections. */
export async function runKeysCommand(args: GlobalArgs, io: Io, run: (deps: KeysDeps) => Promise<void>): Promise<void> {
  const { client, transport } = connect(args, io);
  try {
    await run({ client, io });
  } finally {
    transport.close();
  }
}
