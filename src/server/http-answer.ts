import type http from 'node:http';

export const JSON_TYPE = 'application/json';
export const TEXT_TYPE = 'text/plain; charset=utf-8';
/** The largest body Go's server sends with a Content-Length rather than chunked. */
const GO_UNCHUNKED_BYTES = 2048;

/**
 * Go's server gives a body that fits its 2 KiB buffer a Content-Length and sends a longer one
 * chunked; the client API's answers are written whole, so they are framed as etcd's are.
 */
export function lengthHeader(body: string): http.OutgoingHttpHeaders {
  const length = Buffer.byteLength(body);
  return length <= GO_UNCHUNKED_BYTES ? { 'content-length': length } : {};
}

/** A whole body, framed as Go's server frames it (see lengthHeader). */
export function writeText(res: http.ServerResponse, status: number, contentType: string, body: string, headers: http.OutgoingHttpHeaders = {}): void {
  res.writeHead(status, { ...headers, 'content-type': contentType, ...lengthHeader(body) }).end(body);
}

export function writeJson(res: http.ServerResponse, status: number, value: unknown, newline: boolean): void {
  writeText(res, status, JSON_TYPE, JSON.stringify(value) + (newline ? '\n' : ''));
}

/** Go's http.Error for a method the path does not take. */
export function notAllowed(res: http.ServerResponse, allow: string): void {
  res.setHeader('x-content-type-options', 'nosniff');
  writeText(res, 405, TEXT_TYPE, 'Method Not Allowed\n', { allow });
}
