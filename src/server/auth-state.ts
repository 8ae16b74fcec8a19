import type { AuthCommand, KvPermissions, RoleChange, UserChange } from './auth-command.ts';
import { MalformedAuthCommand, decodeAuthCommand } from './auth-command.ts';

/**
 * etcd v2's users, roles and the "enabled" flag, as every member holds them: changed only by
 * applying committed auth commands, so that all members agree; carried whole in snapshots. The
 * rules (and their messages, quirks included) are etcd 3.4's v2auth store: a role's lists stay
 * null until a grant or revoke rewrites them, and "not updated" means "equal to before", null and
 * [] being different.
 */
export const ROOT = 'root';
export const GUEST = 'guest';

export interface UserRecord {
  readonly user: string;
  /** The password's hash (password.ts). */
  readonly password: string;
  readonly roles: readonly string[] | null;
}

export interface RoleRecord {
  readonly role: string;
  readonly permissions: { readonly kv: KvPermissions };
  /** Kept from a create request that carried empty grant/revoke objects, as etcd keeps them. */
  readonly grant?: { readonly kv: KvPermissions };
  readonly revoke?: { readonly kv: KvPermissions };
}

/** An answer to an /v2/auth request: its status and its JSON body (none for an empty body). */
export interface AuthOutcome {
  readonly status: number;
  readonly body?: unknown;
}

const ROOT_ROLE: RoleRecord = { role: ROOT, permissions: { kv: { read: ['/*'], write: ['/*'] } } };
const DEFAULT_GUEST: RoleRecord = { role: GUEST, permissions: { kv: { read: ['/*'], write: ['/*'] } } };

/** What a snapshot holds of the auth state. */
export interface AuthImage {
  readonly enabled: boolean;
  readonly users: readonly UserRecord[];
  readonly roles: readonly RoleRecord[];
}

function failure(status: number, message: string): AuthOutcome {
  return { status, body: { message: `auth: ${message}` } };
}

export class AuthState {
  enabled = false;
  private readonly users = new Map<string, UserRecord>();
  private readonly roles = new Map<string, RoleRecord>();

  /** Applies a committed command; the outcome is what the proposing member answers. */
  apply(command: AuthCommand): AuthOutcome {
    switch (command.op) {
      case 'putUser':
        return this.putUser(command.change);
      case 'deleteUser':
        return this.deleteUser(command.name);
      case 'putRole':
        return this.putRole(command.change);
      case 'deleteRole':
        return this.deleteRole(command.name);
      case 'enable':
        return this.enable();
      case 'disable':
        if (!this.enabled) return failure(409, 'already disabled');
        this.enabled = false;
        return { status: 200 };
    }
  }

  // --- reads -----------------------------------------------------------------------------------

  /** A user as etcd reads it: the root user always has the root role. */
  user(name: string): UserRecord | undefined {
    const stored = this.users.get(name);
    if (stored === undefined || name !== ROOT || stored.roles?.includes(ROOT) === true) return stored;
    return { ...stored, roles: [...(stored.roles ?? []), ROOT] };
  }

  role(name: string): RoleRecord | undefined {
    return name === ROOT ? ROOT_ROLE : this.roles.get(name);
  }

  userNames(): string[] {
    return [...this.users.keys()].sort();
  }

  roleNames(): string[] {
    return [ROOT, ...this.roles.keys()].sort();
  }

  /**
   * etcd's key check: a pattern ending in `*` matches the keys it prefixes, any other the key
   * itself; a recursive request needs a `*` pattern covering its key; root may do anything.
   */
  roleAllows(roleName: string, key: string, recursive: boolean, write: boolean): boolean {
    const role = this.role(roleName);
    if (role === undefined) return false;
    if (role.role === ROOT) return true;
    const patterns = (write ? role.permissions.kv.write : role.permissions.kv.read) ?? [];
    return patterns.some((pattern) => {
      if (pattern.endsWith('*')) return key.startsWith(pattern.slice(0, -1));
      return !recursive && pattern === key;
    });
  }

  // --- writes ----------------------------------------------------------------------------------

  private putUser(change: UserChange): AuthOutcome {
    if (isEmptyList(change.grant) && isEmptyList(change.revoke)) {
      if (!isEmptyList(change.roles) || !this.users.has(change.user)) return this.createUser(change, isEmptyList(change.roles) ? 201 : 200);
    }
    return this.updateUser(change);
  }

  private createUser(change: UserChange, status: number): AuthOutcome {
    let roles = change.roles;
    if (change.user === ROOT && roles?.includes(ROOT) !== true) roles = [...(roles ?? []), ROOT];
    if (change.password === '') return failure(400, `Cannot create user ${change.user} with an empty password`);
    if (this.users.has(change.user)) return failure(409, `User ${change.user} already exists.`);
    this.users.set(change.user, { user: change.user, password: change.password, roles });
    return { status, body: { user: change.user, roles } };
  }

  private updateUser(change: UserChange): AuthOutcome {
    const old = this.user(change.user);
    if (old === undefined) return failure(404, `User ${change.user} does not exist.`);
    const roles = new Set(old.roles ?? []);
    for (const role of change.grant ?? []) {
      if (roles.has(role)) return failure(409, `Granting duplicate role ${role} for user ${change.user}`);
      roles.add(role);
    }
    for (const role of change.revoke ?? []) {
      if (!roles.has(role)) return failure(409, `Revoking ungranted role ${role} for user ${change.user}`);
      roles.delete(role);
    }
    const updated: UserRecord = { user: old.user, password: change.password !== '' ? change.password : old.password, roles: [...roles].sort() };
    if (updated.password === old.password && sameList(updated.roles, old.roles)) {
      return failure(400, 'User not updated. Use grant/revoke/password to update the user.');
    }
    this.users.set(updated.user, updated);
    return { status: 200, body: { user: updated.user, roles: updated.roles } };
  }

  private deleteUser(name: string): AuthOutcome {
    if (this.enabled && name === ROOT) return failure(403, 'Cannot delete root user while auth is enabled.');
    if (!this.users.delete(name)) return failure(404, `User ${name} does not exist`);
    return { status: 200 };
  }

  private putRole(change: RoleChange): AuthOutcome {
    if (change.role === ROOT) return failure(403, `Cannot modify role ${ROOT}: is root role.`);
    if (isEmptyPermissions(change.grant) && isEmptyPermissions(change.revoke)) return this.createRole(change);
    const old = this.roles.get(change.role);
    if (old === undefined) return failure(404, `Role ${change.role} does not exist.`);
    let kv = old.permissions.kv;
    if (change.grant !== null) {
      const read = granted(kv.read, change.grant.read, 'read');
      if (typeof read === 'string') return failure(409, read);
      const write = granted(kv.write, change.grant.write, 'write');
      if (typeof write === 'string') return failure(409, write);
      kv = { read, write };
    }
    if (change.revoke !== null) kv = { read: revoked(kv.read, change.revoke.read), write: revoked(kv.write, change.revoke.write) };
    const updated: RoleRecord = { role: old.role, permissions: { kv } };
    if (old.grant === undefined && old.revoke === undefined && sameList(kv.read, old.permissions.kv.read) && sameList(kv.write, old.permissions.kv.write)) {
      return failure(400, 'Role not updated. Use grant/revoke to update the role.');
    }
    this.roles.set(updated.role, updated);
    return { status: 200, body: updated };
  }

  private createRole(change: RoleChange): AuthOutcome {
    if (this.roles.has(change.role)) return failure(409, `Role ${change.role} already exists.`);
    const record: RoleRecord = {
      role: change.role,
      permissions: { kv: change.permissions },
      ...(change.grant !== null ? { grant: { kv: change.grant } } : {}),
      ...(change.revoke !== null ? { revoke: { kv: change.revoke } } : {}),
    };
    this.roles.set(record.role, record);
    return { status: 201, body: record };
  }

  private deleteRole(name: string): AuthOutcome {
    if (name === ROOT) return failure(403, `Cannot modify role ${ROOT}: is root role.`);
    if (!this.roles.delete(name)) return failure(404, `Role ${name} doesn't exist.`);
    return { status: 200 };
  }

  /** Needs a root user; makes the guest role (full access, as etcd's default) if there is none. */
  private enable(): AuthOutcome {
    if (this.enabled) return failure(409, 'already enabled');
    if (!this.users.has(ROOT)) return failure(409, 'No root user available, please create one');
    if (!this.roles.has(GUEST)) this.roles.set(GUEST, DEFAULT_GUEST);
    this.enabled = true;
    return { status: 200 };
  }

  // --- snapshots -------------------------------------------------------------------------------

  toImage(): AuthImage {
    return { enabled: this.enabled, users: [...this.users.values()], roles: [...this.roles.values()] };
  }

  /** The state in a snapshot (none in one made before auth existed); throws on a malformed one. */
  static fromImage(image: unknown): AuthState {
    const state = new AuthState();
    if (image === undefined) return state;
    try {
      const record = image as AuthImage;
      if (typeof record.enabled !== 'boolean' || !Array.isArray(record.users) || !Array.isArray(record.roles)) throw new MalformedAuthCommand('malformed');
      for (const u of record.users) {
        const { change } = decodeAuthCommand({ op: 'putUser', change: { ...u, grant: null, revoke: null } }) as { change: UserChange };
        state.users.set(change.user, { user: change.user, password: change.password, roles: change.roles });
      }
      for (const r of record.roles) {
        const { change } = decodeAuthCommand({ op: 'putRole', change: { role: r.role, permissions: r.permissions?.kv, grant: r.grant?.kv ?? null, revoke: r.revoke?.kv ?? null } }) as { change: RoleChange };
        state.roles.set(change.role, {
          role: change.role,
          permissions: { kv: change.permissions },
          ...(change.grant !== null ? { grant: { kv: change.grant } } : {}),
          ...(change.revoke !== null ? { revoke: { kv: change.revoke } } : {}),
        });
      }
      state.enabled = record.enabled;
    } catch {
      throw new Error('snapshot image: the auth state is malformed');
    }
    return state;
  }
}

function isEmptyList(list: readonly string[] | null): boolean {
  return list === null || list.length === 0;
}

function isEmptyPermissions(p: KvPermissions | null): boolean {
  return p === null || (isEmptyList(p.read) && isEmptyList(p.write));
}

function sameList(a: readonly string[] | null, b: readonly string[] | null): boolean {
  if (a === null || b === null) return a === b;
  return a.length === b.length && a.every((item, i) => item === b[i]);
}

/** The list with the granted patterns added (sorted), or etcd's message for a duplicate. */
function granted(current: readonly string[] | null, grant: readonly string[] | null, kind: 'read' | 'write'): string[] | string {
  const set = new Set(current ?? []);
  for (const pattern of grant ?? []) {
    if (set.has(pattern)) return `Granting duplicate ${kind} permission ${pattern}`;
    set.add(pattern);
  }
  return [...set].sort();
}

/** The list without the revoked patterns (sorted); revoking one never granted is no error. */
function revoked(current: readonly string[] | null, revoke: readonly string[] | null): string[] {
  const set = new Set(current ?? []);
  for (const pattern of revoke ?? []) set.delete(pattern);
  return [...set].sort();
}
