import type http from 'node:http';
import { StoreError } from '../store/store-error.ts';
import type { KvPermissions, RoleChange, UserChange } from './auth-command.ts';
import type { AuthGate } from './auth.ts';
import type { AuthOutcome, RoleRecord } from './auth-state.ts';
import type { Member } from './member.ts';
import { formatId } from './member-id.ts';
import { hashPassword } from './password.ts';
import { readBody } from './read-body.ts';

const AUTH_PREFIX = '/v2/auth';
const CORS: http.OutgoingHttpHeaders = {
  'access-control-allow-headers': 'accept, content-type, authorization',
  'access-control-allow-methods': 'POST, GET, OPTIONS, PUT, DELETE',
  'access-control-allow-origin': '*',
};


/** A request body that etcd's JSON decoder refuses. */
class InvalidJson extends Error {}

/**
 * etcd v2's /v2/auth API (etcd's client_auth.go): users, roles and the enable switch, answered
 * byte for byte as etcd 3.4 does. Reads come from this member's auth state; writes are proposed
 * through Raft and answered with the outcome of applying them.
 */
export class AuthApi {
  private readonly host: Member;
  private readonly gate: AuthGate;

  constructor(host: Member, gate: AuthGate) {
    this.host = host;
    this.gate = gate;
  }

  /** The paths etcd's mux gives to the auth handlers. */
  handles(path: string): boolean {
    if (!path.startsWith(AUTH_PREFIX)) return false;
    const rest = path.slice(AUTH_PREFIX.length);
    return rest === '/enable' || rest === '/users' || rest === '/roles' || rest.startsWith('/users/') || rest.startsWith('/roles/');
  }

  async handle(req: http.IncomingMessage, res: http.ServerResponse, path: string): Promise<void> {
    const rest = path.slice(AUTH_PREFIX.length);
    if (rest === '/enable') return this.enable(req, res);
    const pieces = rest.replace(/\/+$/, '').split('/');
    const kind = pieces[1] as 'users' | 'roles';
    if (pieces.length === 2) return this.list(req, res, kind);
    if (pieces.length !== 3) return this.write(res, 400, { message: 'Invalid path' }, false, false);
    if (!(await this.allowed(req, res, ['GET', 'PUT', 'DELETE'], () => this.gate.rootAccess(req)))) return;
    const name = pieces[2]!;
    try {
      if (kind === 'users') await this.user(req, res, name);
      else await this.role(req, res, name);
    } catch (error) {
      if (error instanceof InvalidJson) return this.write(res, 400, { message: 'Invalid JSON in request body.' }, false);
      if (error instanceof StoreError) return this.write(res, 500, { message: error.errorCause }, false);
      throw error;
    }
  }

  /** 401 as etcd answers a members write or an auth request without root's credentials. */
  writeNoAuth(res: http.ServerResponse): void {
    this.write(res, 401, { message: 'Insufficient credentials' }, false, false);
  }

  private async enable(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if (!(await this.allowed(req, res, ['GET', 'PUT', 'DELETE'], () => this.gate.writeRootAccess(req)))) return;
    if (req.method === 'GET') return this.write(res, 200, { enabled: this.host.auth.enabled }, true);
    return this.answer(res, await this.host.proposeAuth({ op: req.method === 'PUT' ? 'enable' : 'disable' }));
  }

  private async list(req: http.IncomingMessage, res: http.ServerResponse, kind: 'users' | 'roles'): Promise<void> {
    if (!(await this.allowed(req, res, ['GET'], () => this.gate.rootAccess(req)))) return;
    const auth = this.host.auth;
    if (kind === 'roles') {
      const roles: RoleRecord[] = [];
      for (const name of auth.roleNames()) roles.push(auth.role(name)!);
      return this.write(res, 200, { roles }, true);
    }
    const users = auth.userNames().map((name) => {
      const roles = (auth.user(name)!.roles ?? []).flatMap((role) => auth.role(role) ?? []);
      return { user: name, ...(roles.length > 0 ? { roles } : {}) };
    });
    return this.write(res, 200, { users: users.length > 0 ? users : null }, true);
  }

  private async user(req: http.IncomingMessage, res: http.ServerResponse, name: string): Promise<void> {
    const auth = this.host.auth;
    if (req.method === 'GET') {
      const user = auth.user(name);
      if (user === undefined) return this.write(res, 404, { message: `auth: User ${name} does not exist.` }, false);
      const roles: RoleRecord[] = [];
      for (const roleName of user.roles ?? []) {
        const role = auth.role(roleName);
        if (role === undefined) return this.write(res, 404, { message: `auth: Role ${roleName} does not exist.` }, false);
        roles.push(role);
      }
      return this.write(res, 200, { user: name, ...(roles.length > 0 ? { roles } : {}) }, true);
    }
    if (req.method === 'DELETE') return this.answer(res, await this.host.proposeAuth({ op: 'deleteUser', name }));
    const body = fields(await this.readJson(req), { user: 'string', password: 'string', roles: 'strings', grant: 'strings', revoke: 'strings' });
    if ((body.user ?? '') !== name) return this.write(res, 400, { message: 'User JSON name does not match the name in the URL' }, false);
    const change: UserChange = { user: name, password: '', roles: list(body.roles), grant: list(body.grant), revoke: list(body.revoke) };
    if ((change.grant?.length || change.revoke?.length) && change.roles?.length) {
      return this.write(res, 400, { message: 'User JSON contains both roles and grant/revoke' }, false);
    }
    const password = typeof body.password === 'string' && body.password !== '' ? await hashPassword(body.password) : '';
    return this.answer(res, await this.host.proposeAuth({ op: 'putUser', change: { ...change, password } }));
  }

  private async role(req: http.IncomingMessage, res: http.ServerResponse, name: string): Promise<void> {
    if (req.method === 'GET') {
      const role = this.host.auth.role(name);
      if (role === undefined) return this.write(res, 404, { message: `auth: Role ${name} does not exist.` }, false);
      return this.write(res, 200, role, true);
    }
    if (req.method === 'DELETE') return this.answer(res, await this.host.proposeAuth({ op: 'deleteRole', name }));
    const body = fields(await this.readJson(req), { role: 'string', permissions: 'object', grant: 'object', revoke: 'object' });
    if ((body.role ?? '') !== name) return this.write(res, 400, { message: 'Role JSON name does not match the name in the URL' }, false);
    const change: RoleChange = { role: name, permissions: permissions(body.permissions) ?? { read: null, write: null }, grant: permissions(body.grant), revoke: permissions(body.revoke) };
    if ((!emptyPermissions(change.grant) || !emptyPermissions(change.revoke)) && !emptyPermissions(change.permissions)) {
      return this.write(res, 400, { message: 'Role JSON contains both permissions and grant/revoke' }, false);
    }
    return this.answer(res, await this.host.proposeAuth({ op: 'putRole', change }));
  }

  /** etcd's allowMethod, then its access check: 405 or 401 (returning false), as etcd orders them. */
  private async allowed(req: http.IncomingMessage, res: http.ServerResponse, methods: readonly string[], access: () => Promise<boolean>): Promise<boolean> {
    if (!methods.includes(req.method ?? 'GET')) {
      res.writeHead(405, { ...CORS, allow: methods.join(','), 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff', 'content-length': 19 }).end('Method Not Allowed\n');
      return false;
    }
    if (await access()) return true;
    this.writeNoAuth(res);
    return false;
  }

  private async readJson(req: http.IncomingMessage): Promise<unknown> {
    const text = (await readBody(req, this.host.config.maxRequestBytes).catch(() => Buffer.alloc(0))).toString('utf8');
    try {
      return JSON.parse(firstJsonValue(text));
    } catch {
      throw new InvalidJson();
    }
  }

  private answer(res: http.ServerResponse, outcome: AuthOutcome): void {
    if (outcome.body === undefined) return void res.writeHead(outcome.status, this.headers(true, 0)).end();
    this.write(res, outcome.status, outcome.body, outcome.status < 400);
  }

  /** Go's json.Encoder ends a success body with a newline; its error writer does not. */
  private write(res: http.ServerResponse, status: number, value: unknown, newline: boolean, withClusterId = true): void {
    const body = JSON.stringify(value) + (newline ? '\n' : '');
    res.writeHead(status, this.headers(withClusterId, Buffer.byteLength(body))).end(body);
  }

  private headers(withClusterId: boolean, length: number): http.OutgoingHttpHeaders {
    return { ...CORS, 'content-type': 'application/json', ...(withClusterId ? { 'x-etcd-cluster-id': formatId(this.host.clusterId) } : {}), 'content-length': length };
  }
}

type FieldKind = 'string' | 'strings' | 'object';

/**
 * Go's json decoding into a struct: keys match field names in any case, null leaves a field
 * unset, unknown keys are ignored, a value of the wrong type refuses the whole body.
 */
function fields<K extends string>(value: unknown, spec: Record<K, FieldKind>): Partial<Record<K, unknown>> {
  if (value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw new InvalidJson();
  const out: Partial<Record<K, unknown>> = {};
  for (const [key, item] of Object.entries(value)) {
    const field = (Object.keys(spec) as K[]).find((name) => name.toLowerCase() === key.toLowerCase());
    if (field === undefined || item === null) continue;
    const kind = spec[field];
    const fine = kind === 'string' ? typeof item === 'string'
      : kind === 'strings' ? Array.isArray(item) && item.every((v) => typeof v === 'string')
      : typeof item === 'object' && !Array.isArray(item);
    if (!fine) throw new InvalidJson();
    out[field] = item;
  }
  return out;
}

function list(value: unknown): string[] | null {
  return Array.isArray(value) ? (value as string[]) : null;
}

/** `{"kv": {"read": [...], "write": [...]}}`, or null when absent. */
function permissions(value: unknown): KvPermissions | null {
  if (value === undefined) return null;
  const kv = fields(fields(value, { kv: 'object' }).kv ?? null, { read: 'strings', write: 'strings' });
  return { read: list(kv.read), write: list(kv.write) };
}

function emptyPermissions(p: KvPermissions | null): boolean {
  return p === null || ((p.read?.length ?? 0) === 0 && (p.write?.length ?? 0) === 0);
}

/** The first JSON value of the text: Go's json.Decoder reads one value and ignores what follows. */
function firstJsonValue(text: string): string {
  let i = 0;
  while (i < text.length && ' \t\r\n'.includes(text[i]!)) i++;
  if (text[i] !== '{' && text[i] !== '[') return text;
  let depth = 0;
  let inString = false;
  for (let j = i; j < text.length; j++) {
    const c = text[j]!;
    if (inString) {
      if (c === '\\') j++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{' || c === '[') depth++;
    else if ((c === '}' || c === ']') && --depth === 0) return text.slice(i, j + 1);
  }
  return text;
}
