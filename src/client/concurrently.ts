/**
 * Runs `work` on every item with at most `limit` running at once; rejects with the first failure
 * (after the running ones settle) or the signal's reason, starting nothing more.
 */
export async function forEachConcurrently<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>, signal?: AbortSignal): Promise<void> {
  let next = 0;
  let failure: { reason: unknown } | undefined;
  const lane = async (): Promise<void> => {
    while (next < items.length && failure === undefined) {
      if (signal?.aborted) {
        failure ??= { reason: signal.reason };
        return;
      }
      const item = items[next++]!;
      try {
        await work(item);
      } catch (error) {
        failure ??= { reason: error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, lane));
  if (failure !== undefined) throw failure.reason;
}
