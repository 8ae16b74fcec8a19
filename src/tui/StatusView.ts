import type { ChalkInstance } from 'chalk';
import { Box, Text } from 'ink';
import { createElement as h } from 'react';
import type { ClusterSnapshot } from '../client/cluster-status.ts';
import type { ClusterEvent } from './cluster-events.ts';
import { clockTime } from './cluster-events.ts';
import { sparkline } from './sparkline.ts';
import type { Tone } from './status-table.ts';
import { columnsFor, headline, health, pad } from './status-table.ts';

export interface StatusViewProps {
  /** Undefined until the first poll has answered. */
  readonly snapshot: ClusterSnapshot | undefined;
  /** Recent changes, the newest last (none in a one-off view). */
  readonly events?: readonly ClusterEvent[];
  /** The widest cell of each column so far (by header): the layout does not shift as figures change. */
  readonly widths?: ReadonlyMap<string, number>;
  /** The cluster's client requests per second at each refresh so far, the newest last. */
  readonly rates?: readonly number[];
  readonly selected: number;
  readonly showHelp: boolean;
  readonly width: number;
  /** Colours: a chalk instance at level 0 when colour is off (NO_COLOR, not a terminal). */
  readonly paint: ChalkInstance;
}

const HELP = [
  'HEALTH     up: answers /health; unhealthy: answers without a leader; down: does not answer',
  'COMMIT     the last index the member knows committed; APPLIED: the last it applied',
  'LAG        entries committed by the leader that the member has not applied yet',
  'REQ/S      client requests per second; PROP/S: proposals committed per second',
  'TO LEADER  the leader\'s last round trip to the member',
  'FSYNC P99  99th percentile of the member\'s disk syncs; PENDING: proposals not committed yet',
  'UPTIME     since the member\'s process started; WATCHERS: open watches',
  'LEADER CHG leader changes the member has seen since it started',
];

function toned(paint: ChalkInstance, tone: Tone, text: string): string {
  switch (tone) {
    case 'good':
      return paint.green(text);
    case 'bad':
      return paint.red.bold(text);
    case 'warn':
      return paint.yellow(text);
    case 'strong':
      return paint.cyan.bold(text);
    default:
      return text;
  }
}

/** The cluster status screen: a headline, one row per member, the selected member's details, key bindings. */
export function StatusView({ snapshot, events = [], widths, rates = [], selected, showHelp, width, paint }: StatusViewProps) {
  const footer = h(Text, { key: 'footer', dimColor: true }, 'q quit  ↑/↓ select  r refresh  ? help');
  if (snapshot === undefined) return h(Box, { flexDirection: 'column' }, h(Text, null, 'asking the cluster…'), footer);
  const columns = columnsFor(snapshot.rows, width, widths);
  const line = (cells: string[]) => cells.join('  ');
  const header = line(columns.map((c) => pad(c.column.header, c.width, c.column.right)));
  const rows = snapshot.rows.map((row, i) => {
    const cells = columns.map((c) => toned(paint, c.column.tone?.(row), pad(c.column.cell(row), c.width, c.column.right)));
    const text = line(cells);
    return h(Text, { key: `row-${i}`, ...(i === selected ? { inverse: true } : {}) }, text);
  });
  const chosen = snapshot.rows[selected];
  const detail = chosen === undefined ? '' : [chosen.name, chosen.endpoint ?? 'no client URL yet', chosen.status?.serverVersion ? `version ${chosen.status.serverVersion}` : undefined, chosen.status?.error ? paint.red(chosen.status.error) : health(chosen) === 'up' ? `answered in ${chosen.status?.latencyMs?.toFixed(1)}ms` : undefined].filter(Boolean).join(' · ');
  return h(
    Box,
    { flexDirection: 'column' },
    h(Text, { key: 'headline', bold: true }, headline(snapshot)),
    snapshot.problem === undefined ? null : h(Text, { key: 'problem' }, paint.yellow(`warning: ${snapshot.problem}`)),
    h(Text, { key: 'header', dimColor: true }, header),
    ...rows,
    h(Text, { key: 'detail' }, detail),
    h(Text, { key: 'rate' }, rates.length === 0 ? 'requests/s -' : `requests/s ${sparkline(rates)} ${Math.round(rates.at(-1)!)}`),
    h(Text, { key: 'events-title', dimColor: true }, events.length === 0 ? 'no events yet' : 'recent events'),
    ...events.map((event, i) => h(Text, { key: `event-${i}` }, `${clockTime(event.at)}  ${event.text}`)),
    ...(showHelp ? HELP.map((text, i) => h(Text, { key: `help-${i}`, dimColor: true }, text)) : []),
    footer,
  );
}
