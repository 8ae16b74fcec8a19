import { useCallback, useEffect, useRef, useState } from 'react';
import type { ClusterSnapshot } from '../client/cluster-status.ts';
import type { ClusterEvent } from './cluster-events.ts';
import { clusterEvents, keepRecent } from './cluster-events.ts';
import { SPARKLINE_SAMPLES, clusterRate } from './sparkline.ts';
import { widestCells } from './status-table.ts';

/** Anything that can be polled for a snapshot (a ClusterMonitor; tests pass fakes). */
export interface SnapshotSource {
  poll(): Promise<ClusterSnapshot>;
}

/**
 * Polls `source` every `intervalMs` (one poll at a time); `refresh` polls now. `events` are the
 * recent changes between polls (members down and up, elections, leaders), the newest last.
 */
export function useClusterStatus(source: SnapshotSource, intervalMs: number): { snapshot: ClusterSnapshot | undefined; events: readonly ClusterEvent[]; widths: ReadonlyMap<string, number>; rates: readonly number[]; refresh: () => void } {
  const [snapshot, setSnapshot] = useState<ClusterSnapshot | undefined>(undefined);
  const [rates, setRates] = useState<readonly number[]>([]);
  const [widths, setWidths] = useState<ReadonlyMap<string, number>>(new Map());
  const [events, setEvents] = useState<readonly ClusterEvent[]>([]);
  const last = useRef<ClusterSnapshot | undefined>(undefined);
  const busy = useRef(false);
  const refresh = useCallback(() => {
    if (busy.current) return;
    busy.current = true;
    source
      .poll()
      .then((next) => {
        const changes = clusterEvents(last.current, next);
        last.current = next;
        setSnapshot(next);
        setWidths((seen) => widestCells(seen, next.rows));
        const rate = clusterRate(next.rows.map((row) => row.requestsPerSecond));
        if (rate !== undefined) setRates((kept) => [...kept, rate].slice(-SPARKLINE_SAMPLES));
        if (changes.length > 0) setEvents((kept) => keepRecent(kept, changes));
      }, () => undefined)
      .finally(() => (busy.current = false));
  }, [source]);
  useEffect(() => {
    refresh();
    const timer = setInterval(refresh, intervalMs);
    return () => clearInterval(timer);
  }, [refresh, intervalMs]);
  return { snapshot, events, widths, rates, refresh };
}
