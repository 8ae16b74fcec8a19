import type { NodeView } from './node.ts';

export type Action = 'get' | 'set' | 'create' | 'update' | 'delete' | 'compareAndSwap' | 'compareAndDelete' | 'expire';

/**
 * What every operation returns: the HTTP reply, the history record and the watch notification
 * are this one object. Never mutated after it is made.
 */
export interface StoreEvent {
  readonly action: Action;
  readonly node: NodeView;
  readonly prevNode?: NodeView;
}

/** The index an event happened at (its node's modifiedIndex). */
export function eventIndex(event: StoreEvent): number {
  return event.node.modifiedIndex ?? 0;
}
