// etcd v2's numeric error codes that clients act on (1xx command, 2xx form, 3xx raft, 4xx server).
export const ErrorCode = {
  KeyNotFound: 100,
  TestFailed: 101,
  NotFile: 102,
  NotDir: 104,
  NodeExist: 105,
  RootReadOnly: 107,
  DirNotEmpty: 108,
  RaftInternal: 300,
  LeaderElect: 301,
  EventIndexCleared: 401,
} as const;

/** Whether the error says the cluster could not serve the request now (worth retrying). */
export function isUnavailableCode(code: number): boolean {
  return code >= 300 && code < 400;
}
