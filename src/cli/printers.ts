import type { V2Event, V2Node } from '../api/wire.ts';
import type { Io } from './io.ts';

export const OUTPUT_FORMATS = ['simple', 'json', 'table'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** Turns an event into the lines of the simple format; each command has one. */
export type SimpleFormatter = (event: V2Event) => string[];

/** Pads columns to a table: the first row is the header. */
export function formatTable(rows: readonly (readonly string[])[]): string[] {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => row[c]!.length)));
  return rows.map((row) => row.map((cell, c) => cell.padEnd(widths[c]!)).join('  ').trimEnd());
}

/** Prints an event: the raw JSON event for `json`, the command's own lines otherwise. */
export function printEvent(io: Io, format: OutputFormat, event: V2Event, simple: SimpleFormatter): void {
  if (format === 'json') {
    io.out(JSON.stringify(event));
    return;
  }
  for (const line of simple(event)) io.out(line);
}

/** Every node below `node` (not `node` itself), depth first, in the order the server listed them. */
export function descendants(node: V2Node): V2Node[] {
  const found: V2Node[] = [];
  const visit = (parent: V2Node): void => {
    for (const child of parent.nodes ?? []) {
      found.push(child);
      visit(child);
    }
  };
  visit(node);
  return found;
}

export const printNothing: SimpleFormatter = () => [];

/** The node's value, as etcdctl prints the result of get and set. */
export const printValue: SimpleFormatter = (event) => [event.node?.value ?? ''];
