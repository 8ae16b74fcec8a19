import { createWriteStream } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { VerifiedSnapshot } from '../api/snapshot-file.ts';
import { SnapshotFileError, verifySnapshotFile } from '../api/snapshot-file.ts';
import { UnavailableError } from './errors.ts';
import type { ClientTls } from './http-transport.ts';
import { describeTlsFailure } from './http-transport.ts';

export const SNAPSHOT_PATH = '/v2/kvd/snapshot';

export interface DownloadOptions {
  readonly endpoints: readonly string[];
  /** How long the member may stay silent (before it answers, or between parts of the file). */
  readonly idleTimeoutMs: number;
  readonly tls?: ClientTls;
  /** The Authorization header (HTTP Basic) for a cluster with auth enabled: the root user's. */
  readonly authorization?: string;
}

/**
 * Saves a member's snapshot (GET /v2/kvd/snapshot from the first endpoint that answers) to
 * `file`: streamed to a temp file beside it, synced, verified whole, then renamed into place, so
 * that `file` is either the old one or a complete, checked new one. Returns the verified file.
 */
export async function downloadSnapshot(file: string, options: DownloadOptions): Promise<VerifiedSnapshot & { readonly endpoint: string }> {
  const partial = path.join(path.dirname(path.resolve(file)), `.${path.basename(file)}.part-${process.pid}`);
  const failures: string[] = [];
  try {
    for (const endpoint of options.endpoints) {
      const failure = await fetchTo(partial, endpoint, options);
      if (failure !== undefined) {
        failures.push(`${endpoint}: ${failure}`);
        continue;
      }
      await syncFile(partial);
      const verified = await verifySnapshotFile(partial).catch((error: unknown) => {
        throw error instanceof SnapshotFileError ? new SnapshotFileError(`the snapshot from ${endpoint} arrived damaged: ${error.message}`) : error;
      });
      await rename(partial, file);
      await syncFile(path.dirname(path.resolve(file)));
      return { ...verified, file, endpoint };
    }
    throw new UnavailableError(`no endpoint sent a snapshot (${failures.join('; ')})`);
  } finally {
    await rm(partial, { force: true });
  }
}

/** Streams the snapshot into `target`; returns why it could not, or undefined once it is all there. */
function fetchTo(target: string, endpoint: string, options: DownloadOptions): Promise<string | undefined> {
  const url = new URL(SNAPSHOT_PATH, endpoint);
  const secure = url.protocol === 'https:';
  const tls = options.tls;
  const tlsOptions = secure ? { ...(tls?.ca ? { ca: tls.ca } : {}), ...(tls?.cert ? { cert: tls.cert } : {}), ...(tls?.key ? { key: tls.key } : {}), rejectUnauthorized: tls?.verify ?? true } : {};
  return new Promise((resolve) => {
    const headers = options.authorization !== undefined ? { authorization: options.authorization } : {};
    // https loaded here, not imported: every kvctl command outside the quick path loads this module, and TLS costs ~15 ms to load.
    const request = (secure ? process.getBuiltinModule('node:https') : http).get(url, { ...tlsOptions, headers }, (response) => {
      if (response.statusCode !== 200) {
        response.resume();
        resolve(refusal(response.statusCode ?? 0));
        return;
      }
      pipeline(response, createWriteStream(target)).then(
        () => resolve(response.complete ? undefined : 'the answer broke off'),
        (error: Error) => resolve(`the answer broke off (${error.message})`),
      );
    });
    request.setTimeout(options.idleTimeoutMs, () => request.destroy(new Error(`silent for ${options.idleTimeoutMs} ms`)));
    request.on('error', (error: NodeJS.ErrnoException) => resolve(describeTlsFailure(error) ?? error.code ?? error.message));
  });
}

function refusal(status: number): string {
  if (status === 404) return 'answered 404: it does not serve kvd snapshots (is it etcd, or an older kvd?)';
  if (status === 401) return 'answered 401: with auth enabled, a backup needs the root user (--user root)';
  return `answered ${status}`;
}

async function syncFile(file: string): Promise<void> {
  const handle = await open(file, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
