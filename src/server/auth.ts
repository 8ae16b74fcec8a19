import { hash, randomBytes } from 'node:crypto';
import type http from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { AuthState, UserRecord } from './auth-state.ts';
import { GUEST, ROOT } from './auth-state.ts';
import { hashPassword, verifyPassword } from './password.ts';

/** How long a verified password is taken as verified without running the KDF again. */
const CACHE_MS = 60_000;
const CACHE_LIMIT = 4096;
const WRITE_METHODS: ReadonlySet<string> = new Set(['PUT', 'POST', 'DELETE']);

interface Verified {
  readonly name: string;
  /** The stored hash it was verified against: a password change invalidates at once. */
  readonly hash: string;
  readonly until: number;
}

/** Who a request is, as etcd v2 decides it. */
type Caller = { readonly kind: 'guest' } | { readonly kind: 'user'; readonly user: UserRecord } | { readonly kind: 'refused' };

/**
 * etcd v2's access checks, made where a request enters the client API (etcd's client_auth.go):
 * nothing is checked while auth is disabled; a request without an Authorization header is the
 * guest role (or, with --client-cert-auth, the user named by its certificate's CN); one with
 * Basic credentials is that user, or refused. Checking a password runs scrypt once; the result is
 * remembered for a minute, by a digest of the Authorization header keyed with a secret of this
 * process (never the password, nor anything a client could compute), so that requests do not pay
 * the KDF each time: a request with remembered credentials costs one SHA-256 and a map lookup.
 */
/** One access to a key that a request makes: a read or a write, of the key alone or of its tree. */
export interface KeyAccess {
  readonly key: string;
  readonly recursive: boolean;
  readonly write: boolean;
}

export class AuthGate {
  private readonly state: () => AuthState;
  private readonly clientCertAuth: boolean;
  private readonly verify: typeof verifyPassword;
  /** By keyed digest of the Authorization header. */
  private readonly verified = new Map<string, Verified>();
  /** Checks running now, by the same digest: concurrent requests with the same credentials share one KDF run. */
  private readonly checking = new Map<string, Promise<Caller>>();
  private readonly digestKey = randomBytes(32).toString('base64');
  /** A hash to check an unknown user's password against, so that it costs what a known one's does. */
  private decoy: Promise<string> | undefined;

  constructor(state: () => AuthState, clientCertAuth: boolean, verify = verifyPassword) {
    this.state = state;
    this.clientCertAuth = clientCertAuth;
    this.verify = verify;
  }

  /** May this request make every one of these accesses (a keys request's one, a transaction's compares and operations)? */
  async keysAccess(req: http.IncomingMessage, accesses: readonly KeyAccess[]): Promise<boolean> {
    const state = this.state();
    if (!state.enabled) return true;
    const caller = await this.caller(req, true);
    if (caller.kind === 'refused') return false;
    return accesses.every(({ key, recursive, write }) =>
      // The guest role is checked as for a single key even for a recursive request, as etcd does.
      caller.kind === 'guest' ? state.roleAllows(GUEST, key, false, write) : (caller.user.roles ?? []).some((role) => state.roleAllows(role, key, recursive, write)),
    );
  }

  /** Is this request from a user with the root role (always, while auth is disabled)? */
  async rootAccess(req: http.IncomingMessage): Promise<boolean> {
    if (!this.state().enabled) return true;
    const caller = await this.caller(req, false);
    return caller.kind === 'user' && (caller.user.roles ?? []).includes(ROOT);
  }

  /** Reads are open; anything else needs root (etcd's rule for /v2/members and /v2/auth/enable). */
  async writeRootAccess(req: http.IncomingMessage): Promise<boolean> {
    // Other methods pass: the route answers them 405 first, as etcd's allowMethod does.
    return !WRITE_METHODS.has(req.method ?? 'GET') || this.rootAccess(req);
  }

  private async caller(req: http.IncomingMessage, guestAllowed: boolean): Promise<Caller> {
    const header = req.headers.authorization ?? '';
    if (header === '') {
      const user = this.clientCertAuth ? this.certificateUser(req) : undefined;
      if (user !== undefined) return { kind: 'user', user };
      return guestAllowed ? { kind: 'guest' } : { kind: 'refused' };
    }
    // A digest keyed with this process's secret: comparing it by map lookup tells a client nothing.
    const digest = hash('sha256', `${this.digestKey}${header}`, 'base64');
    const known = this.verified.get(digest);
    if (known !== undefined && Date.now() < known.until) {
      const user = this.state().user(known.name);
      if (user !== undefined && user.password === known.hash) return { kind: 'user', user };
    }
    let check = this.checking.get(digest);
    if (check === undefined) {
      check = this.checkCredentials(header, digest).finally(() => this.checking.delete(digest));
      this.checking.set(digest, check);
    }
    return check;
  }

  /** Runs the KDF on Basic credentials; remembers them when they match. */
  private async checkCredentials(header: string, digest: string): Promise<Caller> {
    const credentials = parseBasic(header);
    if (credentials === undefined) return { kind: 'refused' };
    const user = this.state().user(credentials.name);
    if (user === undefined) {
      // As slow as a wrong password: the answer's timing must not tell which users exist.
      this.decoy ??= hashPassword(randomBytes(16).toString('base64'));
      await this.verify(credentials.password, await this.decoy);
      return { kind: 'refused' };
    }
    if (!(await this.verify(credentials.password, user.password))) return { kind: 'refused' };
    if (this.verified.size >= CACHE_LIMIT) this.verified.clear();
    this.verified.set(digest, { name: user.user, hash: user.password, until: Date.now() + CACHE_MS });
    // The state may have changed while the KDF ran: answer from the user as it is now.
    const current = this.state().user(credentials.name);
    return current !== undefined && current.password === user.password ? { kind: 'user', user: current } : { kind: 'refused' };
  }

  private certificateUser(req: http.IncomingMessage): UserRecord | undefined {
    const socket = req.socket as Partial<TLSSocket>;
    if (socket.authorized !== true || typeof socket.getPeerCertificate !== 'function') return undefined;
    const cn = socket.getPeerCertificate().subject?.CN;
    return typeof cn === 'string' ? this.state().user(cn) : undefined;
  }
}

/** Go's Request.BasicAuth: "Basic " (any case), standard base64 of "name:password". */
export function parseBasic(header: string): { name: string; password: string } | undefined {
  if (header.length < 6 || header.slice(0, 6).toLowerCase() !== 'basic ') return undefined;
  const encoded = header.slice(6);
  if (encoded.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(encoded)) return undefined;
  const decoded = Buffer.from(encoded, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { name: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}
