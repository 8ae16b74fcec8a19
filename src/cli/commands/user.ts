import type { Argv, CommandModule } from 'yargs';
import { withExample } from '../help-layout.ts';
import type { UserJson } from '../../client/auth-client.ts';
import { nameAndPassword } from '../credentials.ts';
import type { GlobalArgs } from '../global-options.ts';
import { formatOf } from '../global-options.ts';
import type { OutputFormat } from '../printers.ts';
import type { AuthDeps } from './auth.ts';
import { report, withAuthClient } from './auth.ts';

export async function runUserList(format: OutputFormat, deps: AuthDeps): Promise<void> {
  const users = await deps.auth.users();
  if (format === 'json') return deps.io.out(JSON.stringify(users));
  for (const user of users) deps.io.out(user.user);
}

export async function runUserGet(name: string, format: OutputFormat, deps: AuthDeps): Promise<void> {
  const user = await deps.auth.user(name);
  if (format === 'json') return deps.io.out(JSON.stringify(user));
  deps.io.out(`User: ${user.user}`);
  deps.io.out(`Roles: ${rolesOf(user).join(' ')}`);
}

export async function runUserAdd(options: { user: string; roles: readonly string[]; format: OutputFormat }, deps: AuthDeps, ask?: (prompt: string) => string): Promise<void> {
  const { name, password } = nameAndPassword(options.user, ask);
  await deps.auth.addUser(name, password, options.roles);
  report(options.format, deps.io, `User ${name} created`, { user: name, roles: options.roles });
}

export async function runUserPasswd(user: string, format: OutputFormat, deps: AuthDeps, ask?: (prompt: string) => string): Promise<void> {
  const { name, password } = nameAndPassword(user, ask);
  await deps.auth.changePassword(name, password);
  report(format, deps.io, `Password of ${name} changed`, { user: name });
}

export async function runUserRoles(grant: boolean, name: string, roles: readonly string[], format: OutputFormat, deps: AuthDeps): Promise<void> {
  const user = grant ? await deps.auth.grantRoles(name, roles) : await deps.auth.revokeRoles(name, roles);
  report(format, deps.io, `User ${name} ${grant ? 'granted' : 'revoked'} ${roles.join(', ')}`, user);
}

export async function runUserRemove(name: string, format: OutputFormat, deps: AuthDeps): Promise<void> {
  await deps.auth.removeUser(name);
  report(format, deps.io, `User ${name} removed`, { user: name });
}

/** Role names, whether the server answered them as records (GET) or as names (a change). */
function rolesOf(user: UserJson): string[] {
  return (user.roles ?? []).map((role) => (typeof role === 'string' ? role : role.role));
}

interface UserArgs extends GlobalArgs {
  readonly name?: string;
  readonly roles?: string[];
}

const args = (argv: unknown) => argv as UserArgs;
const named = (y: Argv) => y.positional('name', { type: 'string', demandOption: true });
const withRoles = (y: Argv) => named(y).positional('roles', { type: 'string', array: true, demandOption: true });

export const userCommand: CommandModule<GlobalArgs, UserArgs> = {
  command: 'user <command>',
  describe: 'manage users (etcd v2 auth; needs --user root once auth is enabled)',
  builder: (yargs) =>
    (yargs as Argv<GlobalArgs>)
      .command('list', 'list the users', withExample(undefined, '$0 --user root user list', 'the users'), (argv) => withAuthClient(args(argv), (deps) => runUserList(formatOf(args(argv)), deps)))
      .command('get <name>', 'a user and its roles', withExample(named, '$0 --user root user get app -w json', 'a user and its roles, as JSON'), (argv) => withAuthClient(args(argv), (deps) => runUserGet(args(argv).name!, formatOf(args(argv)), deps)))
      .command(
        'add <name>',
        'add a user: NAME[:PASSWORD] (asks for the password when left out)',
        withExample((y: Argv) => named(y).option('roles', { type: 'string', array: true, describe: 'roles to give it at once' }), '$0 --user root user add app --roles app-rw', 'add a user (the password is asked for) with a role'),
        (argv) => withAuthClient(args(argv), (deps) => runUserAdd({ user: args(argv).name!, roles: args(argv).roles ?? [], format: formatOf(args(argv)) }, deps)),
      )
      .command('remove <name>', 'remove a user', withExample(named, '$0 --user root user remove app', 'remove the user app'), (argv) => withAuthClient(args(argv), (deps) => runUserRemove(args(argv).name!, formatOf(args(argv)), deps)))
      .command('grant <name> <roles..>', 'give a user roles', withExample(withRoles, '$0 --user root user grant app app-rw app-ro', 'give app two roles'), (argv) => withAuthClient(args(argv), (deps) => runUserRoles(true, args(argv).name!, args(argv).roles!, formatOf(args(argv)), deps)))
      .command('revoke <name> <roles..>', 'take roles from a user', withExample(withRoles, '$0 --user root user revoke app app-rw', 'take a role from app'), (argv) => withAuthClient(args(argv), (deps) => runUserRoles(false, args(argv).name!, args(argv).roles!, formatOf(args(argv)), deps)))
      .command('passwd <name>', 'change a user\'s password: NAME[:PASSWORD] (asks when left out)', withExample(named, '$0 --user root user passwd app', 'set a new password (asked for, not echoed)'), (argv) => withAuthClient(args(argv), (deps) => runUserPasswd(args(argv).name!, formatOf(args(argv)), deps)))
      .demandCommand(1, 'name a user command: list, get, add, remove, grant, revoke, passwd')
      .example('$0 user add app:secret', 'add a user with a password')
      .example('$0 --user root user grant app app-rw', 'give it a role') as unknown as Argv<UserArgs>,
  handler: () => undefined,
};
