import type { Argv, CommandModule } from 'yargs';
import { withExample } from '../help-layout.ts';
import type { PermissionChange } from '../../client/auth-client.ts';
import { UsageError } from '../errors.ts';
import type { GlobalArgs } from '../global-options.ts';
import { formatOf } from '../global-options.ts';
import type { OutputFormat } from '../printers.ts';
import type { AuthDeps } from './auth.ts';
import { report, withAuthClient } from './auth.ts';

export async function runRoleList(format: OutputFormat, deps: AuthDeps): Promise<void> {
  const roles = await deps.auth.roles();
  if (format === 'json') return deps.io.out(JSON.stringify(roles));
  for (const role of roles) deps.io.out(role.role);
}

export async function runRoleGet(name: string, format: OutputFormat, deps: AuthDeps): Promise<void> {
  const role = await deps.auth.role(name);
  if (format === 'json') return deps.io.out(JSON.stringify(role));
  deps.io.out(`Role: ${role.role}`);
  deps.io.out('KV Read:');
  for (const pattern of role.permissions.kv.read ?? []) deps.io.out(`\t${pattern}`);
  deps.io.out('KV Write:');
  for (const pattern of role.permissions.kv.write ?? []) deps.io.out(`\t${pattern}`);
}

export async function runRoleAdd(name: string, format: OutputFormat, deps: AuthDeps): Promise<void> {
  await deps.auth.addRole(name);
  report(format, deps.io, `Role ${name} created`, { role: name });
}

export async function runRoleRemove(name: string, format: OutputFormat, deps: AuthDeps): Promise<void> {
  await deps.auth.removeRole(name);
  report(format, deps.io, `Role ${name} removed`, { role: name });
}

export async function runRolePermissions(grant: boolean, name: string, change: PermissionChange, format: OutputFormat, deps: AuthDeps): Promise<void> {
  if (change.read.length === 0 && change.write.length === 0) throw new UsageError('name the key patterns: --read, --write or --readwrite PATTERN (a trailing * covers a prefix)');
  const role = grant ? await deps.auth.grantPermissions(name, change) : await deps.auth.revokePermissions(name, change);
  report(format, deps.io, `Role ${name} updated`, role);
}

interface RoleArgs extends GlobalArgs {
  readonly name?: string;
  readonly read?: string[];
  readonly write?: string[];
  readonly readwrite?: string[];
}

const args = (argv: unknown) => argv as RoleArgs;
const named = (y: Argv) => y.positional('name', { type: 'string', demandOption: true });
const withPatterns = (y: Argv) =>
  named(y)
    .option('read', { type: 'string', array: true, describe: 'key patterns to read: /key, or /prefix* for a prefix' })
    .option('write', { type: 'string', array: true, describe: 'key patterns to write' })
    .option('readwrite', { alias: 'rw', type: 'string', array: true, describe: 'key patterns to read and write' });

function changeOf(a: RoleArgs): PermissionChange {
  const both = a.readwrite ?? [];
  return { read: [...(a.read ?? []), ...both], write: [...(a.write ?? []), ...both] };
}

export const roleCommand: CommandModule<GlobalArgs, RoleArgs> = {
  command: 'role <command>',
  describe: 'manage roles and their key permissions (etcd v2 auth; needs --user root once auth is enabled)',
  builder: (yargs) =>
    (yargs as Argv<GlobalArgs>)
      .command('list', 'list the roles', withExample(undefined, '$0 --user root role list', 'the roles'), (argv) => withAuthClient(args(argv), (deps) => runRoleList(formatOf(args(argv)), deps)))
      .command('get <name>', 'a role\'s read and write patterns', withExample(named, '$0 --user root role get app-rw', 'what app-rw may read and write'), (argv) => withAuthClient(args(argv), (deps) => runRoleGet(args(argv).name!, formatOf(args(argv)), deps)))
      .command('add <name>', 'add a role (no permissions yet)', withExample(named, '$0 --user root role add app-rw', 'add a role'), (argv) => withAuthClient(args(argv), (deps) => runRoleAdd(args(argv).name!, formatOf(args(argv)), deps)))
      .command('remove <name>', 'remove a role', withExample(named, '$0 --user root role remove app-rw', 'remove a role'), (argv) => withAuthClient(args(argv), (deps) => runRoleRemove(args(argv).name!, formatOf(args(argv)), deps)))
      .command('grant <name>', 'give a role key permissions', withExample(withPatterns, '$0 --user root role grant app-rw --readwrite "/app/*"', 'read and write everything under /app/'), (argv) => withAuthClient(args(argv), (deps) => runRolePermissions(true, args(argv).name!, changeOf(args(argv)), formatOf(args(argv)), deps)))
      .command('revoke <name>', 'take key permissions from a role', withExample(withPatterns, '$0 --user root role revoke app-rw --write "/app/*"', 'leave app-rw reading /app/ only'), (argv) => withAuthClient(args(argv), (deps) => runRolePermissions(false, args(argv).name!, changeOf(args(argv)), formatOf(args(argv)), deps)))
      .demandCommand(1, 'name a role command: list, get, add, remove, grant, revoke')
      .example('$0 --user root role grant app-rw --readwrite "/app/*"', 'read and write everything under /app/') as unknown as Argv<RoleArgs>,
  handler: () => undefined,
};
