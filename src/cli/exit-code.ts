/**
 * kvctl's and kvd's exit codes: the one table. `--help` prints EXIT_CODE_DOCS and README.md
 * repeats it (a test keeps the two equal).
 */
export const ExitCode = {
  OK: 0,
  USAGE: 1,
  KEY_NOT_FOUND: 2,
  PRECONDITION_FAILED: 3,
  UNAVAILABLE: 4,
  REJECTED: 5,
  SESSION_LOST: 6,
  HISTORY_CLEARED: 7,
  INTERNAL: 10,
  HALTED: 11,
} as const;

export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export const EXIT_CODE_DOCS: Readonly<Record<ExitCode, string>> = {
  [ExitCode.OK]: 'success',
  [ExitCode.USAGE]: 'bad arguments or a client-side problem (the message says which)',
  [ExitCode.KEY_NOT_FOUND]: 'the key does not exist (etcd error 100)',
  [ExitCode.PRECONDITION_FAILED]: 'a condition failed: compare failed (101), the key already exists (105), a lock or a service instance is held by another process',
  [ExitCode.UNAVAILABLE]: 'no endpoint answered in time, or the cluster cannot serve now (3xx, 5xx)',
  [ExitCode.REJECTED]: 'the server refused the request for another reason (not a file, directory not empty, ...)',
  [ExitCode.SESSION_LOST]: 'a lock or election session expired while held (its command was stopped)',
  [ExitCode.HISTORY_CLEARED]: 'a watch fell behind the server\'s event history (etcd error 401): events may be missed',
  [ExitCode.INTERNAL]: 'an unexpected failure in kvctl or kvd itself',
  [ExitCode.HALTED]: 'kvd serve stopped itself: the member could not persist or apply (its last log line says why); restart it once that is fixed',
};

/** Exit code of a command stopped by a signal before it finished, as shells report it. */
export function signalExitCode(signal: NodeJS.Signals): number {
  return 128 + (SIGNAL_NUMBERS[signal] ?? 15);
}

const SIGNAL_NUMBERS: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };

/** The exit-code table as --help prints it. */
export function exitCodeTable(): string {
  const rows = Object.entries(EXIT_CODE_DOCS).map(([code, text]) => `  ${code.padStart(2)}  ${text}`);
  const signals = '  128+N  stopped by signal N before it finished (130: SIGINT, 143: SIGTERM); lock -- CMD exits with CMD\'s code';
  return ['Exit codes:', ...rows, signals].join('\n');
}
