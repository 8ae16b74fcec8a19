/** Connection errors that mean a request never reached the server (so sending it again is safe). */
const NEVER_SENT = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EADDRNOTAVAIL']);

export function neverSent(code: string | undefined): boolean {
  return code !== undefined && NEVER_SENT.has(code);
}
