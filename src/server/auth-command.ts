/**
 * An /v2/auth write as it travels through Raft: the request as etcd's handler reads it, with the
 * password already hashed by the proposing member (so that every member stores the same hash and
 * no clear password is ever in the log). Applying it (auth-state.ts) decides the outcome, on
 * every member alike.
 */

/** etcd's permission lists: `null` where a client never set them (etcd shows them as null). */
export interface KvPermissions {
  readonly read: readonly string[] | null;
  readonly write: readonly string[] | null;
}

/** A user-record change: PUT /v2/auth/users/NAME. */
export interface UserChange {
  readonly user: string;
  /** A password hash (password.ts); '' for none given. */
  readonly password: string;
  readonly roles: readonly string[] | null;
  readonly grant: readonly string[] | null;
  readonly revoke: readonly string[] | null;
}

/** A role-record change: PUT /v2/auth/roles/NAME. */
export interface RoleChange {
  readonly role: string;
  readonly permissions: KvPermissions;
  readonly grant: KvPermissions | null;
  readonly revoke: KvPermissions | null;
}

export type AuthCommand =
  | { readonly op: 'putUser'; readonly change: UserChange }
  | { readonly op: 'deleteUser'; readonly name: string }
  | { readonly op: 'putRole'; readonly change: RoleChange }
  | { readonly op: 'deleteRole'; readonly name: string }
  | { readonly op: 'enable' }
  | { readonly op: 'disable' };

/** A command from a peer that is not what it should be. */
export class MalformedAuthCommand extends RangeError {}

/** Checks a decoded JSON value field by field; throws MalformedAuthCommand. */
export function decodeAuthCommand(value: unknown): AuthCommand {
  const c = object(value);
  switch (c.op) {
    case 'putUser': {
      const u = object(c.change);
      return { op: 'putUser', change: { user: text(u.user), password: text(u.password), roles: names(u.roles), grant: names(u.grant), revoke: names(u.revoke) } };
    }
    case 'putRole': {
      const r = object(c.change);
      return { op: 'putRole', change: { role: text(r.role), permissions: permissions(r.permissions), grant: r.grant === null ? null : permissions(r.grant), revoke: r.revoke === null ? null : permissions(r.revoke) } };
    }
    case 'deleteUser':
    case 'deleteRole':
      return { op: c.op, name: text(c.name) };
    case 'enable':
    case 'disable':
      return { op: c.op };
    default:
      throw new MalformedAuthCommand('auth command: unknown op');
  }
}

function object(value: unknown): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new MalformedAuthCommand('auth command: not an object');
  return value as Record<string, unknown>;
}

function text(value: unknown): string {
  if (typeof value !== 'string') throw new MalformedAuthCommand('auth command: a name is not a string');
  return value;
}

function names(value: unknown): string[] | null {
  if (value === null) return null;
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) throw new MalformedAuthCommand('auth command: a list is malformed');
  return value as string[];
}

function permissions(value: unknown): KvPermissions {
  const p = object(value);
  return { read: names(p.read), write: names(p.write) };
}
