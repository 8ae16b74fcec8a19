import { ApiError, ProtocolError } from './errors.ts';
import type { HttpResponse } from './http-transport.ts';

/**
 * The JSON body of an answer whose status is one of `expected`; otherwise an ApiError with the
 * server's message. etcd's 401 does not say what was missing: `unauthorized` says it for the caller.
 */
export function jsonAnswer<T>(response: HttpResponse, expected: readonly number[], unauthorized: string): T {
  let body: unknown;
  try {
    body = response.body === '' ? undefined : JSON.parse(response.body);
  } catch {
    throw new ProtocolError(`${response.endpoint} answered ${response.status} with a body that is not JSON`);
  }
  if (!expected.includes(response.status)) {
    const message = (body as { message?: string } | undefined)?.message ?? `HTTP ${response.status}`;
    throw new ApiError(response.status, response.status === 401 ? `${message}: ${unauthorized}` : message);
  }
  return body as T;
}
