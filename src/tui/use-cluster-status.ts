import { useCallback, useEffect, useRef, useState } from 'react';
import type { ClusterSnapshot } from '../client/cluster-status.ts';

/** Anything that can be polled for a snapshot (a ClusterMonitor; tests pass fakes). */
export interface SnapshotSource {
  poll(): Promise<ClusterSnapshot>;
}

/** Polls `source` every `intervalMs` (one poll at a time); `refresh` polls now. */
export function useClusterStatus(source: SnapshotSource, intervalMs: number): { snapshot: ClusterSnapshot | undefined; refresh: () => void } {
  const [snapshot, setSnapshot] = useState<ClusterSnapshot | undefined>(undefined);
  const busy = useRef(false);
  const refresh = useCallback(() => {
    if (busy.current) return;
    busy.current = true;
    source
      .poll()
      .then(setSnapshot, () => undefined)
      .finally(() => (busy.current = false));
  }, [source]);
  useEffect(() => {
    refresh();
    const timer = setInterval(refresh, intervalMs);
    return () => clearInterval(timer);
  }, [refresh, intervalMs]);
  return { snapshot, refresh };
}
