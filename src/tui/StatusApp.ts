import type { ChalkInstance } from 'chalk';
import { useApp, useInput, useWindowSize } from 'ink';
import { createElement as h, useState } from 'react';
import { StatusView } from './StatusView.ts';
import type { SnapshotSource } from './use-cluster-status.ts';
import { useClusterStatus } from './use-cluster-status.ts';

export interface StatusAppProps {
  readonly source: SnapshotSource;
  readonly intervalMs: number;
  readonly paint: ChalkInstance;
}

/** The live cluster status: polls, and answers q, arrows, r and ?. */
export function StatusApp({ source, intervalMs, paint }: StatusAppProps) {
  const { exit } = useApp();
  const { columns } = useWindowSize();
  const { snapshot, events, widths, rates, refresh } = useClusterStatus(source, intervalMs);
  const [selected, setSelected] = useState(0);
  const [showHelp, setShowHelp] = useState(false);
  const count = snapshot?.rows.length ?? 0;
  useInput((input, key) => {
    if (input === 'q' || key.escape) exit();
    else if (key.upArrow) setSelected((s) => Math.max(0, s - 1));
    else if (key.downArrow) setSelected((s) => Math.min(Math.max(0, count - 1), s + 1));
    else if (input === 'r') refresh();
    else if (input === '?') setShowHelp((shown) => !shown);
  });
  return h(StatusView, { snapshot, events, widths, rates, selected: Math.min(selected, Math.max(0, count - 1)), showHelp, width: columns || 100, paint });
}
