/**
 * Go's path.Clean of "/" + key: one slash between segments, "." and ".." resolved, no trailing
 * slash. Keys are stored and compared in this form.
 */
export function cleanPath(key: string): string {
  if (isClean(key)) return key;
  const out: string[] = [];
  for (const segment of key.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') out.pop();
    else out.push(segment);
  }
  return `/${out.join('/')}`;
}

function isClean(key: string): boolean {
  if (key === '/') return true;
  if (!key.startsWith('/') || key.endsWith('/')) return false;
  return !key.includes('//') && !/\/\.\.?(\/|$)/.test(key);
}

/** The segments of a clean path ("/" has none). */
export function segmentsOf(cleanKey: string): string[] {
  return cleanKey === '/' ? [] : cleanKey.slice(1).split('/');
}

/** Whether a key's last segment starts with "_" (etcd's hidden nodes). */
export function isHiddenName(name: string): boolean {
  return name.startsWith('_');
}
