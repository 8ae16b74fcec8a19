import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface CertFiles {
  readonly cert: string;
  readonly key: string;
}

/**
 * A scratch directory of test certificates made with openssl: CAs, and certificates they sign for
 * 127.0.0.1 (server and client use). `destroy()` removes it.
 */
export class TestPki {
  readonly dir: string;

  private constructor(dir: string) {
    this.dir = dir;
  }

  static async create(): Promise<TestPki> {
    return new TestPki(await mkdtemp(path.join(os.tmpdir(), 'kvd-test-pki-')));
  }

  /** A self-signed CA named `name`. */
  async ca(name: string): Promise<CertFiles> {
    const files = this.files(name);
    await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', files.key, '-out', files.cert, '-days', '2', '-subj', `/CN=${name}`]);
    return files;
  }

  /** A certificate for `name` signed by `ca`, valid for the given IP and DNS names, for servers and clients. */
  async issue(ca: CertFiles, name: string, sans: readonly string[] = ['IP:127.0.0.1']): Promise<CertFiles> {
    const files = this.files(name);
    const csr = path.join(this.dir, `${name}.csr`);
    const ext = path.join(this.dir, `${name}.ext`);
    await writeFile(ext, `subjectAltName=${sans.join(',')}\nextendedKeyUsage=serverAuth,clientAuth\n`);
    await run('openssl', ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', files.key, '-out', csr, '-subj', `/CN=${name}`]);
    await run('openssl', ['x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-CAcreateserial', '-out', files.cert, '-days', '2', '-extfile', ext]);
    return files;
  }

  private files(name: string): CertFiles {
    return { cert: path.join(this.dir, `${name}.pem`), key: path.join(this.dir, `${name}-key.pem`) };
  }

  async destroy(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}
