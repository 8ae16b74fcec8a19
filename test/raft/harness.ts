import { decodeConfChange } from '../../src/raft/raft.ts';
import type { RaftConfig } from '../../src/raft/raft.ts';
import { RawNode } from '../../src/raft/raw-node.ts';
import type { Ready } from '../../src/raft/raw-node.ts';
import { seededRandom } from '../../src/raft/rand.ts';
import { MemoryStorage } from '../../src/raft/storage.ts';
import type { ConfState, Entry, Message, NodeId, ReadState } from '../../src/raft/types.ts';

/** A member driven by hand: its durable storage, its state machine, a Ready taken but not yet persisted. */
export class TestMember {
  readonly id: NodeId;
  readonly storage: MemoryStorage;
  node: RawNode;
  /** The applied entries' data, by index (the state machine). */
  applied = new Map<number, string>();
  appliedIndex = 0;
  confState: ConfState;
  pending: Ready | undefined;
  readStates: ReadState[] = [];
  crashed = false;
  private readonly options: Partial<RaftConfig>;
  private readonly seed: number;
  private readonly initialPeers: readonly NodeId[];

  constructor(id: NodeId, peers: readonly NodeId[], seed: number, options: Partial<RaftConfig> = {}, storage = new MemoryStorage()) {
    this.id = id;
    this.storage = storage;
    this.options = options;
    this.seed = seed;
    this.initialPeers = peers;
    this.confState = { voters: [...peers], learners: [] };
    this.node = this.makeNode(peers);
  }

  private makeNode(peers: readonly NodeId[]): RawNode {
    const snapshot = this.storage.snapshot();
    return new RawNode({
      id: this.id,
      electionTick: 10,
      heartbeatTick: 1,
      storage: this.storage,
      maxSizePerMsg: 1024 * 1024,
      maxInflightMsgs: 256,
      checkQuorum: true,
      preVote: true,
      random: seededRandom(this.seed * 7919 + this.id),
      peers,
      ...(snapshot.meta.index > 0 ? { applied: snapshot.meta.index } : {}),
      ...this.options,
    });
  }

  /** Takes a Ready: the messages that may leave before the sync come back to be sent. */
  take(): Message[] {
    if (this.pending !== undefined || !this.node.hasReady()) return [];
    this.pending = this.node.ready();
    return [...this.pending.messages];
  }

  /** Makes the taken Ready durable, applies it, advances; returns the messages sent after the sync. */
  persist(onApply: (member: TestMember, entry: Entry) => void = () => undefined): Message[] {
    const rd = this.pending;
    if (rd === undefined) return [];
    this.pending = undefined;
    if (rd.snapshot !== undefined) {
      this.storage.applySnapshot(rd.snapshot);
      this.restoreStateMachine(rd.snapshot.data, rd.snapshot.meta.index);
      this.confState = rd.snapshot.meta.confState;
    }
    this.storage.append(rd.entries);
    if (rd.hardState !== undefined) this.storage.setHardState(rd.hardState);
    for (const entry of rd.committedEntries) {
      if (entry.index <= this.appliedIndex) continue;
      if (entry.type === 'confChange') this.confState = this.node.applyConfChange(decodeConfChange(entry.data));
      else if (entry.data.length > 0) this.applied.set(entry.index, new TextDecoder().decode(entry.data));
      this.appliedIndex = entry.index;
      onApply(this, entry);
    }
    this.readStates.push(...rd.readStates);
    this.node.advance(rd);
    return [...rd.messagesAfterSync];
  }

  /** take + persist, as a synchronous driver does. */
  processReady(onApply?: (member: TestMember, entry: Entry) => void): Message[] {
    return [...this.take(), ...this.persist(onApply)];
  }

  /** Snapshots the state machine at the applied index and compacts the log, keeping `keep` entries. */
  snapshotAndCompact(keep: number): void {
    if (this.appliedIndex <= this.storage.snapshot().meta.index) return;
    const data = new TextEncoder().encode(JSON.stringify([...this.applied]));
    this.storage.createSnapshot(this.appliedIndex, this.confState, data);
    const compactTo = this.appliedIndex - keep;
    if (compactTo > this.storage.firstIndex()) this.storage.compact(compactTo);
  }

  private restoreStateMachine(data: Uint8Array, index: number): void {
    this.applied = data.length === 0 ? new Map() : new Map(JSON.parse(new TextDecoder().decode(data)) as Array<[number, string]>);
    this.appliedIndex = index;
  }

  /** kill -9: the taken Ready and everything in memory are lost; storage is what was synced. */
  crash(): void {
    this.crashed = true;
    this.pending = undefined;
    this.readStates = [];
  }

  restart(): void {
    this.crashed = false;
    const snapshot = this.storage.snapshot();
    this.restoreStateMachine(snapshot.data, snapshot.meta.index);
    this.confState = snapshot.meta.confState;
    // Nothing was ever made durable: start as new, as a member with an empty data dir does.
    const empty = this.storage.lastIndex() === 0 && this.storage.hardState.term === 0;
    this.node = this.makeNode(empty ? this.initialPeers : []);
  }
}
