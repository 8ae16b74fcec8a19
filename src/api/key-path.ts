/** Normalises a user-given key: a leading slash, no trailing slash (the root stays "/"). */
export function normalizeKey(key: string): string {
  const withSlash = key.startsWith('/') ? key : `/${key}`;
  const trimmed = withSlash.replace(/\/+$/, '');
  return trimmed === '' ? '/' : trimmed;
}

/** The URL path of a key in the v2 keys API, each segment percent-encoded. */
export function keysApiPath(key: string): string {
  const segments = normalizeKey(key).split('/').slice(1);
  return `/v2/keys/${segments.map(encodeURIComponent).join('/')}`;
}
