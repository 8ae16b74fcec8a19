import { signalExitCode } from './exit-code.ts';

/** A command was told to stop by a signal before it finished. */
export class Interrupted extends Error {
  readonly code = 'INTERRUPTED';
  readonly signal: NodeJS.Signals;
  constructor(signal: NodeJS.Signals) {
    super(`interrupted by ${signal}`);
    this.name = 'Interrupted';
    this.signal = signal;
  }

  get exitCode(): number {
    return signalExitCode(this.signal);
  }
}

export const TERMINATION_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/**
 * An AbortSignal that aborts (with Interrupted) on SIGINT, SIGTERM or SIGHUP, for commands that
 * hold something until told to stop. `dispose` restores the default handlers.
 */
export function untilSignalled(): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const handlers = TERMINATION_SIGNALS.map((name) => {
    const handler = (): void => controller.abort(new Interrupted(name));
    process.on(name, handler);
    return [name, handler] as const;
  });
  return { signal: controller.signal, dispose: () => handlers.forEach(([name, handler]) => process.off(name, handler)) };
}
