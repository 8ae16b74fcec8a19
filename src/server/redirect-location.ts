/** Bytes that Go's url.URL.EscapedPath leaves as they are in a path; every other byte becomes %XX. */
const PATH_SAFE = /[A-Za-z0-9\-_.~$&+,/:;=@]/;

/**
 * The Location of the redirect to a clean path, written as Go's ServeMux writes it: the path's
 * bytes (a Latin-1 string, one char per byte) escaped as url.URL.EscapedPath does (uppercase
 * %XX), then the raw query with any byte outside printable ASCII escaped (lowercase %xx, as
 * http.Redirect does for non-ASCII). A decoded CR, LF or NUL thus never reaches the header.
 */
export function redirectLocation(cleanPathBytes: string, rawQuery: string): string {
  let location = '';
  for (const char of cleanPathBytes) location += PATH_SAFE.test(char) ? char : `%${char.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`;
  if (rawQuery === '') return location;
  return `${location}?${rawQuery.replace(/[^\x21-\x7e]/g, (char) => `%${char.charCodeAt(0).toString(16).padStart(2, '0')}`)}`;
}
