/**
 * Parses a comma-separated list of client URLs ("http://127.0.0.1:2379,https://h:2379").
 * A URL without a scheme gets http://. Throws a RangeError naming the first bad entry.
 */
export function parseEndpoints(list: string): string[] {
  const endpoints: string[] = [];
  for (const raw of list.split(',')) {
    const entry = raw.trim();
    if (entry === '') continue;
    const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(entry) ? entry : `http://${entry}`;
    let url: URL;
    try {
      url = new URL(withScheme);
    } catch {
      throw new RangeError(`invalid endpoint "${entry}": not a URL`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new RangeError(`invalid endpoint "${entry}": the scheme must be http or https`);
    }
    if (url.pathname !== '/' || url.search !== '' || url.hash !== '') {
      throw new RangeError(`invalid endpoint "${entry}": give only scheme, host and port`);
    }
    endpoints.push(url.origin);
  }
  if (endpoints.length === 0) throw new RangeError('no endpoints given');
  return endpoints;
}
