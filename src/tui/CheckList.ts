import { Box, Text } from 'ink';
import { createElement as h } from 'react';

export interface Check {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

export interface CheckListProps {
  readonly checks: readonly Check[];
}

/** A list of named checks, each marked ok or FAIL, with its detail. */
export function CheckList({ checks }: CheckListProps) {
  const width = Math.max(...checks.map((check) => check.name.length));
  return h(
    Box,
    { flexDirection: 'column' },
    ...checks.map((check) =>
      h(
        Box,
        { key: check.name },
        h(Box, { flexShrink: 0, width: 5 }, h(Text, { color: check.ok ? 'green' : 'red', bold: !check.ok }, check.ok ? 'ok' : 'FAIL')),
        h(Box, { flexShrink: 0, width: width + 2 }, h(Text, null, check.name)),
        h(Text, { dimColor: check.ok }, check.detail),
      ),
    ),
  );
}
