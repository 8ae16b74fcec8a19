import { ApiError } from './errors.ts';
import { jsonAnswer } from './json-answer.ts';
import type { HttpResponse, HttpTransport } from './http-transport.ts';

/** etcd v2's key permissions: `null` where a role was never granted any. */
export interface KvPermissionsJson {
  readonly read: readonly string[] | null;
  readonly write: readonly string[] | null;
}

export interface RoleJson {
  readonly role: string;
  readonly permissions: { readonly kv: KvPermissionsJson };
}

export interface UserJson {
  readonly user: string;
  /** Role records from a GET; role names from a change. */
  readonly roles?: ReadonlyArray<RoleJson | string> | null;
}

/** Which lists a grant or revoke touches. */
export interface PermissionChange {
  readonly read: readonly string[];
  readonly write: readonly string[];
}

function parse<T>(response: HttpResponse, expected: readonly number[]): T {
  return jsonAnswer<T>(response, expected, 'this needs a user with the root role (--user root)');
}

const json = (value: unknown) => ({ body: JSON.stringify(value), contentType: 'application/json' });
const userPath = (name: string) => `/v2/auth/users/${encodeURIComponent(name)}`;
const rolePath = (name: string) => `/v2/auth/roles/${encodeURIComponent(name)}`;

/** etcd's /v2/auth API: users, roles and the auth switch. */
export class AuthClient {
  private readonly transport: HttpTransport;

  constructor(transport: HttpTransport) {
    this.transport = transport;
  }

  async enabled(): Promise<boolean> {
    return parse<{ enabled: boolean }>(await this.transport.request({ method: 'GET', path: '/v2/auth/enable', idempotent: true }), [200]).enabled;
  }

  async enable(): Promise<void> {
    parse(await this.transport.request({ method: 'PUT', path: '/v2/auth/enable', idempotent: false }), [200]);
  }

  async disable(): Promise<void> {
    parse(await this.transport.request({ method: 'DELETE', path: '/v2/auth/enable', idempotent: false }), [200]);
  }

  async users(): Promise<UserJson[]> {
    return parse<{ users: UserJson[] | null }>(await this.transport.request({ method: 'GET', path: '/v2/auth/users', idempotent: true }), [200]).users ?? [];
  }

  async user(name: string): Promise<UserJson> {
    return parse<UserJson>(await this.transport.request({ method: 'GET', path: userPath(name), idempotent: true }), [200]);
  }

  async addUser(name: string, password: string, roles: readonly string[]): Promise<void> {
    // Without roles etcd's PUT creates or, for an existing user, changes the password: look first.
    const existing = await this.transport.request({ method: 'GET', path: userPath(name), idempotent: true });
    if (existing.status === 200 || (existing.status === 404 && !existing.body.includes(`User ${name} does not exist`))) {
      throw new ApiError(409, `auth: User ${name} already exists.`);
    }
    if (existing.status !== 404) parse(existing, [200]);
    // With roles, etcd answers 200 (it creates or refuses); without, 201 for created.
    parse(await this.transport.request({ method: 'PUT', path: userPath(name), ...json({ user: name, password, ...(roles.length > 0 ? { roles } : {}) }), idempotent: false }), roles.length > 0 ? [200] : [201]);
  }

  async removeUser(name: string): Promise<void> {
    parse(await this.transport.request({ method: 'DELETE', path: userPath(name), idempotent: false }), [200]);
  }

  async changePassword(name: string, password: string): Promise<void> {
    parse(await this.transport.request({ method: 'PUT', path: userPath(name), ...json({ user: name, password }), idempotent: true }), [200]);
  }

  async grantRoles(name: string, roles: readonly string[]): Promise<UserJson> {
    return parse(await this.transport.request({ method: 'PUT', path: userPath(name), ...json({ user: name, grant: roles }), idempotent: false }), [200]);
  }

  async revokeRoles(name: string, roles: readonly string[]): Promise<UserJson> {
    return parse(await this.transport.request({ method: 'PUT', path: userPath(name), ...json({ user: name, revoke: roles }), idempotent: false }), [200]);
  }

  async roles(): Promise<RoleJson[]> {
    return parse<{ roles: RoleJson[] | null }>(await this.transport.request({ method: 'GET', path: '/v2/auth/roles', idempotent: true }), [200]).roles ?? [];
  }

  async role(name: string): Promise<RoleJson> {
    return parse<RoleJson>(await this.transport.request({ method: 'GET', path: rolePath(name), idempotent: true }), [200]);
  }

  async addRole(name: string): Promise<void> {
    parse(await this.transport.request({ method: 'PUT', path: rolePath(name), ...json({ role: name }), idempotent: false }), [201]);
  }

  async removeRole(name: string): Promise<void> {
    parse(await this.transport.request({ method: 'DELETE', path: rolePath(name), idempotent: false }), [200]);
  }

  async grantPermissions(name: string, change: PermissionChange): Promise<RoleJson> {
    return parse(await this.transport.request({ method: 'PUT', path: rolePath(name), ...json({ role: name, grant: { kv: change } }), idempotent: false }), [200]);
  }

  async revokePermissions(name: string, change: PermissionChange): Promise<RoleJson> {
    return parse(await this.transport.request({ method: 'PUT', path: rolePath(name), ...json({ role: name, revoke: { kv: change } }), idempotent: false }), [200]);
  }
}
