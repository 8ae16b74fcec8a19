import type http from 'node:http';
import { TEXT_TYPE } from './http-answer.ts';
import { redirectLocation } from './redirect-location.ts';

/**
 * The path of a client request as Go's ServeMux takes it: decoded, then cleaned; a path that is
 * not clean is answered with a redirect to the clean one. Returns the decoded path, or undefined
 * once it has answered (400 for a malformed escape, 301 for an unclean path).
 */
export function servedPath(req: http.IncomingMessage, res: http.ServerResponse, rawPath: string, query: string): string | undefined {
  let path: string;
  try {
    path = percentDecode(rawPath);
  } catch {
    res.writeHead(400, { 'content-type': TEXT_TYPE, connection: 'close' }).end('400 Bad Request');
    return undefined;
  }
  if (isCleanServePath(path) || cleanServePath(path) === path) return path;
  // As Go's http.Redirect: the HTML body for GET, its content type for GET and HEAD. The
  // location is made from the path's bytes, escaped: never from the decoded text.
  const location = redirectLocation(cleanServePath(percentDecodeBytes(rawPath)), query);
  if (req.method === 'GET' || req.method === 'HEAD') {
    const body = req.method === 'GET' ? `<a href="${htmlEscape(location)}">Moved Permanently</a>.\n\n` : '';
    res.writeHead(301, { location, 'content-type': 'text/html; charset=utf-8', ...(body === '' ? {} : { 'content-length': Buffer.byteLength(body) }) }).end(body);
  } else {
    res.writeHead(301, { location, 'content-length': 0 }).end();
  }
  return undefined;
}

/** Go's html.EscapeString subset used by http.Redirect. */
function htmlEscape(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&#34;', "'": '&#39;' })[c]!);
}

const UTF8 = new TextDecoder();

/** Decodes %XX in a URL path (`+` stays `+`); throws on a malformed escape. */
function percentDecode(path: string): string {
  if (!path.includes('%')) return path;
  if (/%(?![0-9a-fA-F]{2})/.test(path)) throw new URIError('malformed escape');
  return UTF8.decode(Buffer.from(percentDecodeBytes(path), 'latin1'));
}

/** Decodes %XX in a URL path to its bytes, one Latin-1 char per byte (the escapes are known sound). */
function percentDecodeBytes(path: string): string {
  return path.replace(/%([0-9a-fA-F]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

/** A path that cleanServePath would keep as it is (nearly every one): no empty, `.` or `..` segment. */
function isCleanServePath(path: string): boolean {
  return path.startsWith('/') && !/\/\/|\/\.\.?(?:\/|$)/.test(path);
}

/** Go's ServeMux cleanPath: path.Clean, keeping a trailing slash. */
function cleanServePath(path: string): string {
  if (path === '') return '/';
  const absolute = path.startsWith('/') ? path : `/${path}`;
  const out: string[] = [];
  for (const part of absolute.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') out.pop();
    else out.push(part);
  }
  let clean = `/${out.join('/')}`;
  if (absolute.endsWith('/') && clean !== '/') clean += '/';
  return clean;
}
