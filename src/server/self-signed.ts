import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import type { TlsFiles } from './tls.ts';
import { TlsError } from './tls.ts';

const run = promisify(execFile);

/**
 * etcd's --auto-tls and --peer-auto-tls: a self-signed certificate and key for the listen hosts,
 * made with openssl the first time and kept in <data-dir>.auto-tls (etcd keeps its own in
 * <data-dir>/fixtures, but a kvd data dir holds only what its storage writes).
 * ECDSA P-256, a year, server and client use, Organization "etcd" as etcd's.
 */
export async function ensureSelfSigned(files: TlsFiles, flag: string): Promise<void> {
  const hosts = files.selfSignedFor;
  if (hosts === undefined || (existsSync(files.certFile) && existsSync(files.keyFile))) return;
  await mkdir(path.dirname(files.certFile), { recursive: true, mode: 0o700 });
  const names = hosts.map((host) => (net.isIP(host) !== 0 ? `IP:${host}` : `DNS:${host}`)).join(',');
  try {
    await run('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '365',
      '-subj', '/O=etcd', '-keyout', files.keyFile, '-out', files.certFile,
      '-addext', `subjectAltName=${names}`, '-addext', 'keyUsage=digitalSignature,keyEncipherment', '-addext', 'extendedKeyUsage=serverAuth,clientAuth',
    ]);
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'openssl is not installed' : ((error as { stderr?: string }).stderr ?? String(error)).trim().split('\n')[0];
    throw new TlsError(`--${flag}: cannot make a self-signed certificate in ${path.dirname(files.certFile)}: ${reason}`);
  }
}
