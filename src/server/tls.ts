import { readFileSync, unwatchFile, watchFile } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { PeerCertificate, TLSSocket } from 'node:tls';
import crypto from 'node:crypto';
import tls from 'node:tls';
import type { Logger } from './logger.ts';

/** Certificate files that cannot be used; `kvd serve` refuses to start with this message. */
export class TlsError extends Error {}

/** The TLS flags of one side (clients, or peers), as etcd names them. */
export interface TlsFiles {
  readonly certFile: string;
  readonly keyFile: string;
  /**
   * Self-signed for these hosts (--auto-tls, --peer-auto-tls): made at start when missing; the
   * parties this member dials show certificates no CA signed, so theirs are not verified (etcd's
   * InsecureSkipVerify): traffic is encrypted, no one is authenticated.
   */
  readonly selfSignedFor?: readonly string[];
  readonly trustedCaFile?: string;
  /** Require every connecting party to present a certificate signed by trustedCaFile. */
  readonly clientCertAuth: boolean;
  /** Accept only certificates whose Subject CN is exactly this (etcd's --peer-cert-allowed-cn). */
  readonly allowedCn?: string;
  /** Accept only certificates valid for this host name or IP (etcd's --peer-cert-allowed-hostname). */
  readonly allowedHostname?: string;
}

interface Loaded {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly ca?: Buffer;
}

function read(flag: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'is a directory' : (error as Error).message;
    throw new TlsError(`--${flag} ${file}: cannot read it (${reason})`);
  }
}

/**
 * One side's certificate, key and trusted CA, checked when loaded: the key must match the
 * certificate and each file must parse. With `watch`, files that change on disk are loaded again
 * (certificate rotation without a restart); a bad new set is refused and the old one kept.
 */
export class TlsMaterial {
  /** The flags' prefix: '' for clients, 'peer-' for peers. */
  private readonly prefix: string;
  readonly files: TlsFiles;
  private loaded: Loaded;
  private readonly servers: https.Server[] = [];
  private watching = false;

  private constructor(prefix: string, files: TlsFiles, loaded: Loaded) {
    this.prefix = prefix;
    this.files = files;
    this.loaded = loaded;
  }

  static load(prefix: '' | 'peer-', files: TlsFiles): TlsMaterial {
    return new TlsMaterial(prefix, files, TlsMaterial.read(prefix, files));
  }

  private static read(prefix: string, files: TlsFiles): Loaded {
    if (files.clientCertAuth && files.trustedCaFile === undefined) throw new TlsError(`--${prefix}client-cert-auth needs --${prefix}trusted-ca-file: the CA that signs the certificates to accept`);
    const cert = read(`${prefix}cert-file`, files.certFile);
    const key = read(`${prefix}key-file`, files.keyFile);
    const ca = files.trustedCaFile === undefined ? undefined : read(`${prefix}trusted-ca-file`, files.trustedCaFile);
    try {
      new crypto.X509Certificate(cert);
    } catch {
      throw new TlsError(`--${prefix}cert-file ${files.certFile}: not a PEM certificate`);
    }
    try {
      tls.createSecureContext({ cert, key });
    } catch (error) {
      const message = (error as Error).message;
      if (/key values mismatch/i.test(message)) throw new TlsError(`--${prefix}key-file ${files.keyFile}: the key does not match the certificate in --${prefix}cert-file ${files.certFile}`);
      throw new TlsError(`--${prefix}key-file ${files.keyFile}: not a usable private key (${message})`);
    }
    if (ca !== undefined) {
      try {
        tls.createSecureContext({ ca });
        new crypto.X509Certificate(ca);
      } catch {
        throw new TlsError(`--${prefix}trusted-ca-file ${files.trustedCaFile}: not a PEM certificate`);
      }
    }
    return { cert, key, ...(ca !== undefined ? { ca } : {}) };
  }

  /** Options for a TLS server: its certificate, and client certificates when required. */
  serverOptions(): https.ServerOptions {
    return {
      cert: this.loaded.cert,
      key: this.loaded.key,
      ...(this.loaded.ca !== undefined ? { ca: this.loaded.ca } : {}),
      requestCert: this.files.clientCertAuth,
      // Checked in createServer, which can say why a certificate was refused (Node's own check
      // only reports a hang-up).
      rejectUnauthorized: false,
    };
  }

  /**
   * Options for requests this member makes (to peers, or as a proxy): trust the CA, show our
   * certificate. As etcd, the allowed CN or hostname also applies to the certificate of the party
   * we dial: a member talks only to members.
   */
  clientOptions(): https.RequestOptions {
    if (this.files.selfSignedFor !== undefined) return { cert: this.loaded.cert, key: this.loaded.key, rejectUnauthorized: false };
    return {
      cert: this.loaded.cert,
      key: this.loaded.key,
      ...(this.loaded.ca !== undefined ? { ca: this.loaded.ca } : {}),
      checkServerIdentity: (host, cert) => {
        const refused = tls.checkServerIdentity(host, cert);
        if (refused !== undefined) return refused;
        const reason = this.notAllowed(cert);
        return reason === undefined ? undefined : new Error(`refused the certificate of ${host}: ${reason}`);
      },
    };
  }

  /** Why a certificate signed by the trusted CA is still refused (allowed CN or hostname), or undefined. */
  private notAllowed(cert: PeerCertificate): string | undefined {
    const { allowedCn, allowedHostname } = this.files;
    if (allowedCn !== undefined) {
      const cn = commonName(cert);
      return cn === allowedCn ? undefined : `its CN "${cn}" is not --${this.prefix}cert-allowed-cn "${allowedCn}"`;
    }
    if (allowedHostname !== undefined && !validFor(cert, allowedHostname)) {
      return `it is not valid for --${this.prefix}cert-allowed-hostname "${allowedHostname}" (${cert.subjectaltname ?? 'no subject alternative names'})`;
    }
    return undefined;
  }

  /** Why a connecting party is refused (no certificate, another CA, not an allowed peer), or undefined. */
  private refusal(socket: TLSSocket): string | undefined {
    const cert = socket.getPeerCertificate();
    const presented = Object.keys(cert).length > 0;
    if (!presented) return 'the client presented no certificate';
    if (!socket.authorized) return `the certificate is not signed by the trusted CA (${String(socket.authorizationError)})`;
    return this.notAllowed(cert);
  }

  /** An HTTPS server with this material, logging refused handshakes; it follows rotations once `watch` runs. */
  createServer(handler: http.RequestListener, what: string, log: Logger): https.Server {
    const server = https.createServer(this.serverOptions(), handler);
    server.on('tlsClientError', (error: Error & { code?: string }, socket: TLSSocket) => {
      const remote = socket.remoteAddress === undefined ? {} : { remote: `${socket.remoteAddress}:${socket.remotePort}` };
      log.warn(`refused a TLS ${what} connection`, { ...remote, reason: describeTlsError(error) });
    });
    if (this.files.clientCertAuth) {
      // Before the HTTP layer sees the connection: an unverified party gets no request served.
      server.prependListener('secureConnection', (socket: TLSSocket) => {
        const reason = this.refusal(socket);
        if (reason === undefined) return;
        log.warn(`refused a TLS ${what} connection`, { remote: `${socket.remoteAddress}:${socket.remotePort}`, reason });
        socket.destroy();
      });
    }
    this.servers.push(server);
    return server;
  }

  /** Re-reads the files when they change (checked every `intervalMs`). */
  watch(log: Logger, intervalMs = 2000): void {
    if (this.watching) return;
    this.watching = true;
    const files = [this.files.certFile, this.files.keyFile, ...(this.files.trustedCaFile !== undefined ? [this.files.trustedCaFile] : [])];
    const reload = (): void => {
      try {
        this.loaded = TlsMaterial.read(this.prefix, this.files);
        for (const server of this.servers) server.setSecureContext(this.serverOptions());
        log.info('certificates reloaded', { cert: this.files.certFile });
      } catch (error) {
        log.error('new certificates refused; keeping the old ones', { reason: (error as Error).message });
      }
    };
    for (const file of files) watchFile(file, { interval: intervalMs, persistent: false }, (now, before) => {
      if (now.mtimeMs !== before.mtimeMs || now.size !== before.size || now.ino !== before.ino) reload();
    });
  }

  close(): void {
    if (!this.watching) return;
    for (const file of [this.files.certFile, this.files.keyFile, this.files.trustedCaFile]) if (file !== undefined) unwatchFile(file);
  }
}

/** The certificate's Subject CN; of several, the last, as Go's x509 (and so etcd) reads it. */
function commonName(cert: PeerCertificate): string {
  const cn: string | string[] | undefined = cert.subject?.CN;
  return Array.isArray(cn) ? (cn.at(-1) ?? '') : (cn ?? '');
}

/**
 * Whether the certificate is valid for `host`, as Go's x509 VerifyHostname (which etcd 3.4 calls)
 * decides: an IP only against the IP SANs, a name only against the DNS SANs with a whole-label
 * `*.` wildcard on the left; the Subject CN is never used (Go 1.15 and later).
 */
function validFor(cert: PeerCertificate, host: string): boolean {
  const x509 = new crypto.X509Certificate(cert.raw);
  const ip = host.replace(/^\[(.*)\]$/, '$1');
  if (net.isIP(ip) !== 0) return x509.checkIP(ip) !== undefined;
  return x509.checkHost(host, { subject: 'never', wildcards: true, partialWildcards: false, multiLabelWildcards: false }) !== undefined;
}

/** What went wrong in a handshake, in words an operator recognises. */
export function describeTlsError(error: Error & { code?: string }): string {
  const message = error.message;
  if (/no certificate|peer did not return a certificate|certificate required/i.test(message)) return 'the client presented no certificate';
  if (/unknown ca|unable to get local issuer|certificate verify failed|self.signed/i.test(message)) return `the certificate is not signed by the trusted CA (${message})`;
  if (/expired/i.test(message)) return `the certificate has expired (${message})`;
  if (/http request/i.test(message)) return 'plain HTTP on a TLS port';
  if (error.code === 'ECONNRESET') return 'the client hung up during the handshake (does it trust this member\'s certificate?)';
  return error.code ?? message;
}

/** Creates the listener of a client or peer URL: HTTPS with `material`, plain HTTP otherwise. */
export function createListener(url: URL, handler: http.RequestListener, material: TlsMaterial | undefined, what: string, log: Logger): http.Server {
  if (url.protocol !== 'https:') return http.createServer(handler);
  if (material === undefined) throw new TlsError(`${url.origin} is https: give --${what === 'peers' ? 'peer-' : ''}cert-file and --${what === 'peers' ? 'peer-' : ''}key-file`);
  return material.createServer(handler, what === 'peers' ? 'peer' : 'client', log);
}
