/**
 * Form values as Go's net/http gathers them: the body's (for POST, PUT and PATCH with a form
 * content type) before the query's, each name keeping every value in order. The first value
 * of a name wins. Parsing follows url.ParseQuery: `+` is a space, a bad escape or a `;` is an
 * error (etcd answers 210 with Go's message), the remaining pairs still count.
 */
export type Form = ReadonlyMap<string, readonly string[]>;

export class FormError extends Error {}

const HEX = /^[0-9a-fA-F]{2}$/;

/** Go's url.QueryUnescape. Throws FormError with Go's message for a malformed escape. */
export function queryUnescape(text: string): string {
  if (!text.includes('%') && !text.includes('+')) return text;
  const bytes: number[] = [];
  const utf8 = new TextEncoder();
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '%') {
      const hex = text.slice(i + 1, i + 3);
      if (!HEX.test(hex)) throw new FormError(`invalid URL escape ${JSON.stringify(text.slice(i, i + 3))}`);
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else if (c === '+') {
      bytes.push(0x20);
    } else {
      bytes.push(...utf8.encode(c));
    }
  }
  return new TextDecoder().decode(new Uint8Array(bytes));
}

/** Adds the pairs of an x-www-form-urlencoded text to `into`; returns the first error, as Go does. */
export function parseQueryInto(text: string, into: Map<string, string[]>): FormError | undefined {
  let first: FormError | undefined;
  for (const pair of text.split('&')) {
    if (pair === '') continue;
    if (pair.includes(';')) {
      first ??= new FormError('invalid semicolon separator in query');
      continue;
    }
    const eq = pair.indexOf('=');
    const rawKey = eq < 0 ? pair : pair.slice(0, eq);
    const rawValue = eq < 0 ? '' : pair.slice(eq + 1);
    try {
      const key = queryUnescape(rawKey);
      const value = queryUnescape(rawValue);
      const values = into.get(key);
      if (values === undefined) into.set(key, [value]);
      else values.push(value);
    } catch (error) {
      if (!(error instanceof FormError)) throw error;
      first ??= error;
    }
  }
  return first;
}

/** The request's form: body first (when Go would parse it), then the query. */
export function parseForm(method: string, query: string, contentType: string | undefined, body: string): { form: Form; error?: FormError } {
  const form = new Map<string, string[]>();
  let error: FormError | undefined;
  const parsesBody = method === 'POST' || method === 'PUT' || method === 'PATCH';
  if (parsesBody && (contentType ?? '').split(';')[0]!.trim().toLowerCase() === 'application/x-www-form-urlencoded') {
    error = parseQueryInto(body, form);
  }
  const queryError = parseQueryInto(query, form);
  error ??= queryError;
  return error === undefined ? { form } : { form, error };
}

export function formValue(form: Form, name: string): string {
  return form.get(name)?.[0] ?? '';
}
