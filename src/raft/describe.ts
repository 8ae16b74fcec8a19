import type { Ready } from './raw-node.ts';
import type { ConfState, Entry, HardState, Message, Snapshot, SoftState } from './types.ts';

const decoder = new TextDecoder('utf-8', { fatal: true });

/** Entry data as quoted text when it is UTF-8 text, else its size. */
function describeData(data: Uint8Array): string {
  if (data.length === 0) return '';
  try {
    const text = decoder.decode(data);
    if (![...text].some((c) => c.charCodeAt(0) < 0x20)) return ` ${JSON.stringify(text)}`;
  } catch {
    // binary: fall through
  }
  return ` <${data.length} bytes>`;
}

/** `1/5 EntryNormal "data"`: term/index, type, data. */
export function describeEntry(entry: Entry): string {
  const type = entry.type === 'confChange' ? 'EntryConfChange' : 'EntryNormal';
  return `${entry.term}/${entry.index} ${type}${describeData(entry.data)}`;
}

export function describeEntries(entries: readonly Entry[]): string {
  return `[${entries.map(describeEntry).join(', ')}]`;
}

export function describeConfState(confState: ConfState): string {
  const learners = confState.learners.length > 0 ? ` Learners:[${confState.learners.join(' ')}]` : '';
  return `Voters:[${confState.voters.join(' ')}]${learners}`;
}

export function describeSnapshot(snapshot: Snapshot): string {
  const { index, term, confState } = snapshot.meta;
  return `Index:${index} Term:${term} ${describeConfState(confState)}`;
}

export function describeHardState(hardState: HardState): string {
  return `Term:${hardState.term} Vote:${hardState.vote} Commit:${hardState.commit}`;
}

export function describeSoftState(softState: SoftState): string {
  return `Lead:${softState.lead} State:${softState.role}`;
}

/** `1->2 MsgApp Term:2 Log:1/3 Commit:3 Entries:[2/4 EntryNormal "x"]`: one line per message. */
export function describeMessage(m: Message): string {
  const type = `Msg${m.type[0]!.toUpperCase()}${m.type.slice(1)}`;
  let out = `${m.from}->${m.to} ${type} Term:${m.term} Log:${m.logTerm}/${m.index}`;
  if (m.commit !== 0) out += ` Commit:${m.commit}`;
  if (m.reject) out += ` Rejected (Hint: ${m.rejectHint})`;
  if (m.context !== '') out += ` Context:${m.context}`;
  if (m.entries.length > 0) out += ` Entries:${describeEntries(m.entries)}`;
  if (m.snapshot !== undefined) out += ` Snapshot: ${describeSnapshot(m.snapshot)}`;
  return out;
}

/** A Ready as indented lines, in the order the driver handles them. */
export function describeReady(rd: Ready): string[] {
  const lines: string[] = [];
  if (rd.softState !== undefined) lines.push(describeSoftState(rd.softState));
  if (rd.hardState !== undefined) lines.push(`HardState ${describeHardState(rd.hardState)}`);
  if (rd.entries.length > 0) lines.push('Entries:', ...rd.entries.map((e) => `  ${describeEntry(e)}`));
  if (rd.snapshot !== undefined) lines.push(`Snapshot ${describeSnapshot(rd.snapshot)}`);
  if (rd.committedEntries.length > 0) lines.push('CommittedEntries:', ...rd.committedEntries.map((e) => `  ${describeEntry(e)}`));
  if (rd.messages.length > 0) lines.push('Messages:', ...rd.messages.map((m) => `  ${describeMessage(m)}`));
  if (rd.messagesAfterSync.length > 0) lines.push('MessagesAfterSync:', ...rd.messagesAfterSync.map((m) => `  ${describeMessage(m)}`));
  if (rd.readStates.length > 0) lines.push('ReadStates:', ...rd.readStates.map((s) => `  Index:${s.index} Context:${s.context}`));
  return lines;
}
