import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { InteractionEnv } from './interaction-env.ts';

/**
 * Scripted tests: each file in testdata/ is a sequence of blocks
 *   COMMAND
 *   ----
 *   EXPECTED OUTPUT (ends at a blank line)
 * REWRITE=1 writes the actual output in place; review the diff like code.
 */
const DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'testdata');

interface Block {
  readonly command: string;
  readonly expected: string;
  readonly comments: string[];
}

function parse(text: string): Block[] {
  const blocks: Block[] = [];
  const lines = text.split('\n');
  let comments: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === '') continue;
    if (line.startsWith('#')) {
      comments.push(line);
      continue;
    }
    if (lines[i + 1] !== '----') throw new Error(`line ${i + 1}: "${line}" must be followed by ----`);
    const expected: string[] = [];
    let j = i + 2;
    for (; j < lines.length && lines[j] !== ''; j++) expected.push(lines[j]!);
    blocks.push({ command: line, expected: expected.join('\n'), comments });
    comments = [];
    i = j;
  }
  return blocks;
}

describe('raft scripted interactions (test/raft/testdata)', () => {
  for (const file of readdirSync(DIR).filter((f) => f.endsWith('.txt')).sort()) {
    it(file, () => {
      const full = path.join(DIR, file);
      const blocks = parse(readFileSync(full, 'utf8'));
      const env = new InteractionEnv();
      const actual = blocks.map((block) => ({ ...block, actual: env.run(block.command) }));
      if (process.env.REWRITE === '1') {
        const text = actual.map((b) => [...b.comments, b.command, '----', b.actual].join('\n')).join('\n\n');
        writeFileSync(full, `${text}\n`);
        return;
      }
      for (const block of actual) assert.equal(block.actual, block.expected, `${file}: ${block.command}`);
    });
  }
});
