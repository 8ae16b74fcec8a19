import type http from 'node:http';
import { StorageFailedError } from '../storage/errors.ts';
import type { Logger } from './logger.ts';

/**
 * How a member reports that it cannot go on: it could not persist or apply, or its Raft core
 * threw (a broken invariant). `what` says which, in a few words; `cause` is the error. The member
 * has stopped its own loop, timers and transport when it calls this; the callee stops the process.
 */
export type Fatal = (what: string, cause: unknown) => void;

/**
 * Fail-stop as `kvd serve` wires it: on the first fatal cause one error line names it, every
 * listener closes with its connections, and `halted` resolves so that the process exits non-zero
 * and a supervisor restarts it. A member never serves on in a broken state (a zombie that answers
 * /health but times out every write).
 */
export class FailStop {
  private readonly log: Logger;
  private readonly servers: http.Server[] = [];
  private tripped = false;
  private trip: () => void = () => {};
  /** Resolves once a fatal cause has stopped the member. */
  readonly halted: Promise<void>;

  constructor(log: Logger) {
    this.log = log;
    this.halted = new Promise((resolve) => (this.trip = resolve));
  }

  readonly fatal: Fatal = (what, cause) => {
    if (this.tripped) return;
    this.tripped = true;
    this.log.error(`fail-stop: ${what}; this member exits`, describeCause(cause));
    for (const server of this.servers) server.close();
    // One turn of the event loop lets the requests in flight be answered with their failure.
    setImmediate(() => {
      for (const server of this.servers) server.closeAllConnections();
      this.trip();
    });
  };

  /** A listener to close on a fatal cause (at once, if one came while it was being opened). */
  guard(server: http.Server): void {
    this.servers.push(server);
    if (!this.tripped) return;
    server.close();
    server.closeAllConnections();
  }
}

/** The cause as log fields: its message, what the operator can do about it, and a bug's stack. */
function describeCause(cause: unknown): Record<string, string> {
  if (!(cause instanceof Error)) return { cause: String(cause) };
  const fields: Record<string, string> = { cause: cause.message };
  const hint = hintFor(cause.message);
  if (hint !== undefined) fields.fix = hint;
  // A storage failure is the environment's; anything else is a bug whose stack says where.
  if (!(cause instanceof StorageFailedError) && hint === undefined && cause.stack !== undefined) fields.stack = cause.stack;
  return fields;
}

function hintFor(message: string): string | undefined {
  if (/ENOSPC|no space left/i.test(message)) return 'free space on the disk of --data-dir, then restart the member';
  if (/EMFILE|ENFILE|too many open files/i.test(message)) return 'raise the open-file limit (ulimit -n, LimitNOFILE) or lower --max-client-connections, then restart the member';
  if (/EIO|input\/output error/i.test(message)) return 'the disk of --data-dir reports I/O errors: check it (dmesg), then restart the member';
  if (/EACCES|EROFS|permission denied|read-only file system/i.test(message)) return '--data-dir is not writable: fix its permissions or mount, then restart the member';
  return undefined;
}
