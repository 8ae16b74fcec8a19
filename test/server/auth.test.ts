import assert from 'node:assert/strict';
import type http from 'node:http';
import { AuthGate, parseBasic } from '../../src/server/auth.ts';
import type { AuthCommand } from '../../src/server/auth-command.ts';
import { AuthState } from '../../src/server/auth-state.ts';
import { MalformedEntryError, decodePayload } from '../../src/server/payload.ts';
import { hashPassword, verifyPassword } from '../../src/server/password.ts';

const user = (name: string, password: string, roles: string[] | null = null): AuthCommand => ({ op: 'putUser', change: { user: name, password, roles, grant: null, revoke: null } });
const role = (name: string, grant: { read?: string[]; write?: string[] }): AuthCommand => ({ op: 'putRole', change: { role: name, permissions: { read: null, write: null }, grant: { read: grant.read ?? null, write: grant.write ?? null }, revoke: null } });

/** The access to `key` a keys request with this method makes: a write for anything but GET and HEAD. */
function keyAccess(gate: AuthGate, req: http.IncomingMessage, key: string, recursive: boolean): Promise<boolean> {
  return gate.keysAccess(req, [{ key, recursive, write: req.method !== 'GET' && req.method !== 'HEAD' }]);
}

function request(method: string, authorization?: string): http.IncomingMessage {
  return { method, headers: authorization === undefined ? {} : { authorization }, socket: {} } as unknown as http.IncomingMessage;
}

const basic = (text: string) => `Basic ${Buffer.from(text).toString('base64')}`;

describe('auth state: etcd v2 rules, applied alike on every member', () => {
  it('a role allows keys by pattern: `prefix*` covers what it prefixes, an exact pattern its key, recursive requests need a `*` pattern', () => {
    const state = new AuthState();
    state.apply({ op: 'putRole', change: { role: 'app', permissions: { read: null, write: null }, grant: null, revoke: null } });
    assert.equal(state.apply(role('app', { read: ['/app/*', '/exact'], write: ['/app/w'] })).status, 200);
    assert.equal(state.roleAllows('app', '/app/x/y', false, false), true);
    assert.equal(state.roleAllows('app', '/app/x', true, false), true);
    assert.equal(state.roleAllows('app', '/app', true, false), false);
    assert.equal(state.roleAllows('app', '/exact', false, false), true);
    assert.equal(state.roleAllows('app', '/exact', true, false), false);
    assert.equal(state.roleAllows('app', '/exact/below', false, false), false);
    assert.equal(state.roleAllows('app', '/app/w', false, true), true);
    assert.equal(state.roleAllows('app', '/app/x', false, true), false);
    assert.equal(state.roleAllows('root', '/anything', true, true), true);
    assert.equal(state.roleAllows('nosuch', '/app/x', false, false), false);
  });

  it('enable needs a root user and makes a full-access guest role; root cannot be deleted while enabled', () => {
    const state = new AuthState();
    assert.deepEqual(state.apply({ op: 'enable' }), { status: 409, body: { message: 'auth: No root user available, please create one' } });
    assert.equal(state.apply(user('root', 'h')).status, 201);
    assert.equal(state.apply({ op: 'enable' }).status, 200);
    assert.deepEqual(state.role('guest'), { role: 'guest', permissions: { kv: { read: ['/*'], write: ['/*'] } } });
    assert.deepEqual(state.apply({ op: 'deleteUser', name: 'root' }), { status: 403, body: { message: 'auth: Cannot delete root user while auth is enabled.' } });
    assert.deepEqual(state.user('root')?.roles, ['root']);
  });

  it('an update that changes nothing is refused, and null lists differ from empty ones as in etcd', () => {
    const state = new AuthState();
    state.apply(user('bob', 'h'));
    const none: AuthCommand = { op: 'putUser', change: { user: 'bob', password: '', roles: null, grant: null, revoke: null } };
    assert.deepEqual(state.apply(none), { status: 200, body: { user: 'bob', roles: [] } }, 'null roles become []');
    assert.equal(state.apply(none).status, 400);
  });

  it('the state travels whole in a snapshot image, and a malformed one is refused', () => {
    const state = new AuthState();
    state.apply(user('root', 'h'));
    state.apply({ op: 'putRole', change: { role: 'r', permissions: { read: ['/a'], write: null }, grant: null, revoke: null } });
    state.apply({ op: 'enable' });
    const copy = AuthState.fromImage(JSON.parse(JSON.stringify(state.toImage())));
    assert.deepEqual(copy.toImage(), state.toImage());
    assert.equal(copy.enabled, true);
    assert.equal(AuthState.fromImage(undefined).enabled, false);
    assert.throws(() => AuthState.fromImage({ enabled: true, users: [{ user: 5 }], roles: [] }), /auth state is malformed/);
  });

  it('an auth entry from a peer is decoded field by field', () => {
    const encode = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));
    assert.deepEqual(decodePayload(encode({ kind: 'auth', id: 'x', command: { op: 'enable' } })), { kind: 'auth', id: 'x', command: { op: 'enable' } });
    assert.throws(() => decodePayload(encode({ kind: 'auth', id: 'x', command: { op: 'drop' } })), MalformedEntryError);
    assert.throws(() => decodePayload(encode({ kind: 'auth', id: 'x', command: { op: 'putUser', change: { user: 'a', password: 1, roles: null, grant: null, revoke: null } } })), MalformedEntryError);
  });
});

describe('passwords and credentials', () => {
  it('passwords are salted scrypt hashes, verified in constant time', async () => {
    const hash = await hashPassword('s3cret');
    assert.match(hash, /^scrypt\$16384\$8\$1\$/);
    assert.notEqual(await hashPassword('s3cret'), hash, 'salted');
    assert.equal(hash.includes('s3cret'), false);
    assert.equal(await verifyPassword('s3cret', hash), true);
    assert.equal(await verifyPassword('wrong', hash), false);
    assert.equal(await verifyPassword('s3cret', 'scrypt$99999999$8$1$AA==$AA=='), false, 'a damaged record asks for no unbounded work');
  });

  it('HTTP Basic credentials are read as Go reads them', () => {
    assert.deepEqual(parseBasic(basic('bob:pw:with:colons')), { name: 'bob', password: 'pw:with:colons' });
    assert.deepEqual(parseBasic(`basic ${Buffer.from('a:b').toString('base64')}`), { name: 'a', password: 'b' });
    assert.equal(parseBasic(basic('nocolon')), undefined);
    assert.equal(parseBasic('Basic !!!!'), undefined);
    assert.equal(parseBasic('Bearer x'), undefined);
  });

  it('a verified password is remembered, so a request does not pay the KDF each time; a password change takes effect at once', async () => {
    const state = new AuthState();
    state.apply(user('root', await hashPassword('rootpw')));
    state.apply({ op: 'putRole', change: { role: 'app', permissions: { read: ['/app/*'], write: null }, grant: null, revoke: null } });
    state.apply(user('bob', await hashPassword('old'), ['app']));
    state.apply({ op: 'enable' });
    let kdfRuns = 0;
    const gate = new AuthGate(() => state, false, (password, hash) => {
      kdfRuns++;
      return verifyPassword(password, hash);
    });
    const concurrent = await Promise.all(Array.from({ length: 20 }, () => keyAccess(gate, request('GET', basic('bob:old')), '/app/x', false)));
    assert.deepEqual(concurrent, Array(20).fill(true));
    for (let i = 0; i < 20; i++) assert.equal(await keyAccess(gate, request('GET', basic('bob:old')), '/app/x', false), true);
    assert.equal(kdfRuns, 1, 'scrypt ran once for forty requests, twenty of them at once');
    assert.equal(await keyAccess(gate, request('GET', basic('bob:wrong')), '/app/x', false), false);
    assert.equal(kdfRuns, 2, 'a wrong password always pays the KDF');
    assert.equal(await keyAccess(gate, request('GET', basic('nobody:pw')), '/app/x', false), false);
    assert.equal(kdfRuns, 3, 'so does an unknown user: timing does not tell which users exist');
    state.apply({ op: 'putUser', change: { user: 'bob', password: await hashPassword('new'), roles: null, grant: null, revoke: null } });
    assert.equal(await keyAccess(gate, request('GET', basic('bob:old')), '/app/x', false), false, 'the old password no longer works');
    assert.equal(await keyAccess(gate, request('GET', basic('bob:new')), '/app/x', false), true);
    assert.equal(await keyAccess(gate, request('PUT', basic('bob:new')), '/app/x', false), false, 'no write permission');
    assert.equal(await gate.rootAccess(request('GET', basic('bob:new'))), false);
    assert.equal(await gate.rootAccess(request('GET', basic('root:rootpw'))), true);
    assert.equal(await gate.writeRootAccess(request('GET')), true);
    assert.equal(await gate.writeRootAccess(request('POST')), false);
    assert.equal(await keyAccess(gate, request('PUT'), '/any', true), true, 'guest has full access by default');
  });
});
