import type http from 'node:http';

/** A request body over the limit; the rest of it is drained, not kept. */
export class BodyTooLarge extends Error {}

/** A body that broke off: the client went away, or sent bytes that do not parse as a body. */
export class RequestAborted extends Error {}

const NO_BODY = Buffer.alloc(0);

/** Reads a whole request body, refusing one over `limit` bytes with BodyTooLarge, one cut off with RequestAborted. */
export function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer> {
  // Without Content-Length or Transfer-Encoding a request has no body (RFC 9112, 6.3): nothing
  // to wait for, and no listeners to add for each of a long-poll watcher's many bodiless GETs.
  if (req.headers['content-length'] === undefined && req.headers['transfer-encoding'] === undefined) return Promise.resolve(NO_BODY);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        reject(new BodyTooLarge());
        req.resume();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', () => reject(new RequestAborted('the request broke off')));
    // A body that ended is settled already: building the error for every request cost a long-poll
    // member ~4% of its CPU (a stack trace each). Otherwise the connection closed mid-body.
    req.on('close', () => {
      if (!req.complete) reject(new RequestAborted('the request broke off'));
    });
  });
}
