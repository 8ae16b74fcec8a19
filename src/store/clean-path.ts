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

const SLASH = 0x2f;
const DOT = 0x2e;

/** Whether a key is already clean; a loop rather than regular expressions, as this runs per request. */
function isClean(key: string): boolean {
  const n = key.length;
  if (key === '/') return true;
  if (n === 0 || key.charCodeAt(0) !== SLASH || key.charCodeAt(n - 1) === SLASH) return false;
  for (let i = 0; i < n; i++) {
    if (key.charCodeAt(i) !== SLASH) continue;
    const next = key.charCodeAt(i + 1);
    if (next === SLASH) return false;
    if (next !== DOT) continue;
    // "/." or "/.." followed by a slash or the end is a segment that cleaning removes.
    const after = key.charCodeAt(i + 2);
    if (i + 2 === n || after === SLASH) return false;
    if (after === DOT && (i + 3 === n || key.charCodeAt(i + 3) === SLASH)) return false;
  }
  return true;
}

/** The segments of a clean path ("/" has none). */
export function segmentsOf(cleanKey: string): string[] {
  return cleanKey === '/' ? [] : cleanKey.slice(1).split('/');
}

/** Whether a key's last segment starts with "_" (etcd's hidden nodes). */
export function isHiddenName(name: string): boolean {
  return name.startsWith('_');
}
