import type { Argv, CommandModule } from 'yargs';
import { withExample } from '../help-layout.ts';
import { AuthClient } from '../../client/auth-client.ts';
import type { GlobalArgs } from '../global-options.ts';
import { formatOf, transportFor } from '../global-options.ts';
import type { Io } from '../io.ts';
import { processIo } from '../io.ts';
import type { OutputFormat } from '../printers.ts';

/** What the user, role and auth commands need from the outside world; tests pass fakes. */
export interface AuthDeps {
  readonly auth: AuthClient;
  readonly io: Io;
}

/** Runs `act` with an auth client for the global options, closing its transport after. */
export function withAuthClient(argv: GlobalArgs, act: (deps: AuthDeps) => Promise<void>): Promise<void> {
  const transport = transportFor(argv, processIo);
  return act({ auth: new AuthClient(transport), io: processIo }).finally(() => transport.close());
}

/** Prints what a change returned: a line in simple form, the server's record as JSON. */
export function report(format: OutputFormat, io: Io, line: string, record: unknown = {}): void {
  io.out(format === 'json' ? JSON.stringify(record) : line);
}

export async function runAuthStatus(format: OutputFormat, deps: AuthDeps): Promise<void> {
  const enabled = await deps.auth.enabled();
  report(format, deps.io, `Authentication ${enabled ? 'Enabled' : 'Disabled'}`, { enabled });
}

export async function runAuthSwitch(enable: boolean, format: OutputFormat, deps: AuthDeps): Promise<void> {
  await (enable ? deps.auth.enable() : deps.auth.disable());
  report(format, deps.io, `Authentication ${enable ? 'Enabled' : 'Disabled'}`, { enabled: enable });
}

const args = (argv: unknown) => argv as GlobalArgs;

export const authCommand: CommandModule<GlobalArgs, GlobalArgs> = {
  command: 'auth <command>',
  describe: 'turn access control on and off (etcd v2 auth)',
  builder: (yargs) =>
    (yargs as Argv<GlobalArgs>)
      .command('status', 'whether auth is enabled', withExample(undefined, '$0 auth status', 'is access control on?'), (argv) => withAuthClient(args(argv), (deps) => runAuthStatus(formatOf(args(argv)), deps)))
      .command('enable', 'enable auth (create the root user first; needs root once enabled)', withExample(undefined, '$0 --user root auth enable', 'turn access control on'), (argv) => withAuthClient(args(argv), (deps) => runAuthSwitch(true, formatOf(args(argv)), deps)))
      .command('disable', 'disable auth (needs --user root)', withExample(undefined, '$0 --user root auth disable', 'turn access control off'), (argv) => withAuthClient(args(argv), (deps) => runAuthSwitch(false, formatOf(args(argv)), deps)))
      .demandCommand(1, 'name an auth command: status, enable, disable')
      .example('$0 user add root', 'create the root user (asks for its password)')
      .example('$0 auth enable', 'then enable auth')
      .example('$0 --user root auth disable', 'disable it again'),
  handler: () => undefined,
};
