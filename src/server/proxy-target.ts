/** The client API a member serves, which is all a proxy forwards: /v2/..., /version, /health, /metrics. */
const CLIENT_API = /^\/(?:v2(?:\/|$)|version$|health$|metrics$)/;

/**
 * The request target a proxy may forward, as the path (and query) to ask a member for; undefined
 * when the proxy must refuse it. Only an origin-form target (`/v2/keys/a?wait=true`) of the client
 * API with no empty or dot segments is forwarded: an absolute-form target (`http://host/...`), a
 * `//host/...` path or a backslash (which URL parsers read as a slash) could otherwise name the host
 * to send to, and the proxy would carry its own client certificate there.
 */
export function forwardedTarget(target: string): string | undefined {
  const question = target.indexOf('?');
  const path = question < 0 ? target : target.slice(0, question);
  if (!CLIENT_API.test(path) || path.includes('\\')) return undefined;
  // Segments after the first slash; a trailing slash (a directory listing) leaves one empty last segment.
  const segments = path.slice(1).split('/');
  const inner = path.endsWith('/') ? segments.slice(0, -1) : segments;
  if (inner.some((segment) => segment === '' || segment === '.' || segment === '..')) return undefined;
  return target;
}
