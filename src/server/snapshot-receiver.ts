import { open, readFile, rm } from 'node:fs/promises';
import type http from 'node:http';
import path from 'node:path';
import type { Message, NodeId } from '../raft/types.ts';
import { INCOMING_SNAPSHOT_FILE } from '../storage/data-dir-check.ts';
import type { Logger } from './logger.ts';
import { formatId } from './member-id.ts';
import { decodeMessages } from './peer-codec.ts';
import { MAX_SNAPSHOT_BYTES } from './peer-protocol.ts';
import type { TransportHost } from './transport-host.ts';

/**
 * POST /raft/snapshot on the peer listener: the body is written to a file in the data dir as it
 * arrives (bounded in size, one reception at a time), then read back, checked to restore, and
 * delivered; the file is removed whatever the outcome.
 */
export class SnapshotReceiver {
  private readonly host: TransportHost;
  private readonly log: Logger;
  /** Whether a snapshot is being received (one at a time). */
  private receiving = false;

  constructor(host: TransportHost, log: Logger) {
    this.host = host;
    this.log = log;
  }

  /** Receives the snapshot `from` sends; `deliver` gets its message once it is known to restore. */
  async receive(request: http.IncomingMessage, response: http.ServerResponse, from: NodeId, admitted: boolean, deliver: (messages: readonly Message[]) => void): Promise<void> {
    const answer = (status: number, text?: string): void => {
      if (response.headersSent) return;
      if (text === undefined) response.writeHead(status).end();
      else response.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', connection: 'close' }).end(`${text}\n`);
    };
    const declared = Number(request.headers['content-length'] ?? NaN);
    if (!Number.isSafeInteger(declared) || declared > MAX_SNAPSHOT_BYTES) {
      answer(Number.isSafeInteger(declared) ? 413 : 411, `a snapshot needs a content-length of at most ${MAX_SNAPSHOT_BYTES} bytes`);
      return void request.destroy();
    }
    if (!admitted) {
      answer(403, 'not a member of this cluster');
      return void request.destroy();
    }
    if (this.receiving) {
      answer(503, 'already receiving a snapshot');
      return void request.destroy();
    }
    this.receiving = true;
    const file = path.join(this.host.dataDir, INCOMING_SNAPSHOT_FILE);
    let messages: Message[] | undefined;
    let refusal = '';
    try {
      await spool(request, file, declared);
      messages = decodeSnapshotRequest(await readFile(file));
      await this.host.checkSnapshot(messages[0]!.snapshot!.data);
    } catch (error) {
      messages = undefined;
      refusal = error instanceof Error ? error.message : String(error);
    }
    await rm(file, { force: true }).catch((error: unknown) => this.log.warn('cannot remove a received snapshot', { file, error: String(error) }));
    this.receiving = false;
    if (messages === undefined) {
      this.log.warn('refused a snapshot from a peer', { from: formatId(from), reason: refusal });
      answer(400, refusal);
      return void request.destroy();
    }
    deliver(messages);
    answer(204);
  }
}

/** A streamed snapshot: u32 frame length, the frame (one snap message without data), the data. */
function decodeSnapshotRequest(body: Buffer): Message[] {
  if (body.length < 4) throw new RangeError('snapshot request: truncated');
  const headLength = body.readUInt32BE(0);
  if (4 + headLength > body.length) throw new RangeError('snapshot request: truncated');
  const messages = decodeMessages(body.subarray(4, 4 + headLength));
  const message = messages[0];
  if (messages.length !== 1 || message?.type !== 'snap' || message.snapshot === undefined) throw new RangeError('snapshot request: not one snapshot message');
  return [{ ...message, snapshot: { meta: message.snapshot.meta, data: body.subarray(4 + headLength) } }];
}

/** Writes a request's body to `file`, refusing more than `limit` bytes. */
async function spool(request: http.IncomingMessage, file: string, limit: number): Promise<void> {
  const handle = await open(file, 'w', 0o600);
  try {
    let size = 0;
    for await (const chunk of request as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > limit) throw new RangeError('snapshot request: longer than its content-length');
      await handle.write(chunk);
    }
    if (size !== limit) throw new RangeError('snapshot request: truncated');
  } finally {
    await handle.close();
  }
}
