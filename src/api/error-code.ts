// The etcd v2 error codes that clients act on (the store owns the full table; this module and
// the store may not import each other).
export const ErrorCode = {
  KeyNotFound: 100,
  TestFailed: 101,
  /** A file was expected where a directory is. */
  NotFile: 102,
  /** A directory was expected where a file is (the cause names it). */
  NotDir: 104,
  NodeExist: 105,
  /** Auth is on and the credentials (or their absence) do not give the permission. */
  Unauthorized: 110,
  /** A watch's waitIndex is older than the server's event history (1,000 events). */
  EventIndexCleared: 401,
} as const;

/** Whether the error says the cluster could not serve the request now (3xx: raft; worth retrying). */
export function isUnavailableCode(code: number): boolean {
  return code >= 300 && code < 400;
}
