import { createHash } from 'node:crypto';
import type { StoreEvent } from '../../src/store/event.ts';
import { eventIndex } from '../../src/store/event.ts';
import type { TreeNode } from '../../src/store/node.ts';
import type { Store } from '../../src/store/store.ts';

/** One store event as some member applied it. */
export interface AppliedEvent {
  readonly index: number;
  readonly action: string;
  readonly key: string;
  readonly value: string | undefined;
  /** The event's JSON, as a watcher receives it. */
  readonly text: string;
  /** Simulated time the first member applied it. */
  readonly at: number;
  readonly member: string;
}

/**
 * Every store event any member applied, by index: the ground truth the checkers hold clients
 * and watchers to. Members that apply a different event at the same index are a failure (they
 * diverged: a TTL expired on one member's own clock, an entry applied twice on one of them).
 */
export class AppliedLog {
  readonly events = new Map<number, AppliedEvent>();
  readonly conflicts: string[] = [];

  record(member: string, event: StoreEvent, at: number): void {
    const index = eventIndex(event);
    const text = JSON.stringify(event);
    const known = this.events.get(index);
    if (known === undefined) {
      this.events.set(index, { index, action: event.action, key: event.node.key ?? '', value: event.node.value, text, at, member });
      return;
    }
    if (known.text !== text && this.conflicts.length < 5) this.conflicts.push(`store index ${index}: ${known.member} applied ${known.text}, ${member} applied ${text}`);
  }

  /** Every event on `key`, in index order. */
  eventsOf(key: string): AppliedEvent[] {
    return [...this.events.values()].filter((e) => e.key === key).sort((a, b) => a.index - b.index);
  }
}

/** A digest of the whole store (hidden keys, indexes and expiry times included), to compare members. */
export function storeDigest(store: Store): string {
  const hash = createHash('sha256');
  hash.update(`index ${store.index}\n`);
  const walk = (node: TreeNode, path: string): void => {
    hash.update(`${path} ${node.isDir ? 'dir' : JSON.stringify(node.value)} ${node.createdIndex} ${node.modifiedIndex} ${node.expireTime}\n`);
    if (node.children === null) return;
    for (const name of [...node.children.keys()].sort()) walk(node.children.get(name)!, `${path}/${name}`);
  };
  walk(store.root, '');
  return hash.digest('hex').slice(0, 16);
}
