import { describeMessage } from '../../src/raft/describe.ts';
import { seededRandom } from '../../src/raft/rand.ts';
import type { ConfChange, Entry, Message, NodeId } from '../../src/raft/types.ts';
import { TestMember } from './harness.ts';

/**
 * A deterministic simulation of a Raft cluster: everything random comes from the seed, so a
 * failing seed replays exactly. Faults run for `faultSteps`, then the network heals and the
 * cluster must make progress (liveness). Safety is checked after every step.
 */
export interface SimulationResult {
  readonly seed: number;
  readonly failure?: string;
  /** The last lines of the trace (describe lines of actions and messages). */
  readonly trace: readonly string[];
  readonly stats: { steps: number; elections: number; committed: number; crashes: number; confChanges: number; snapshots: number; reads: number };
}

interface InFlight {
  readonly message: Message;
  readonly deliverAt: number;
}

const TRACE_LINES = Number(process.env.SIM_TRACE ?? 400);
const encoder = new TextEncoder();

class SafetyViolation extends Error {}

export function simulate(seed: number, faultSteps = 3000): SimulationResult {
  return new Simulation(seed).run(faultSteps);
}

class Simulation {
  private readonly seed: number;
  private readonly random: () => number;
  private readonly members = new Map<NodeId, TestMember>();
  private network: InFlight[] = [];
  private now = 0;
  private readonly trace: string[] = [];
  /** Blocked links "from>to". */
  private readonly blocked = new Set<string>();
  private dropRate: number;
  private duplicateRate: number;
  private maxDelay: number;
  private nextId: NodeId;
  private proposals = 0;
  // Safety bookkeeping.
  private readonly leaders = new Map<number, NodeId>();
  private readonly appliedData = new Map<number, string>();
  private readonly proposer = new Map<string, NodeId>();
  private ackedMax = 0;
  private readonly readFloor = new Map<string, number>();
  private readonly lastCommit = new Map<NodeId, number>();
  /** The term in which each member was last seen leading (to notice each election once). */
  private readonly leaderSeen = new Map<NodeId, number>();
  private readonly stats = { steps: 0, elections: 0, committed: 0, crashes: 0, confChanges: 0, snapshots: 0, reads: 0 };

  constructor(seed: number) {
    this.seed = seed;
    this.random = seededRandom(seed);
    const size = [3, 5, 7][seed % 3]!;
    const peers = Array.from({ length: size }, (_, i) => i + 1);
    for (const id of peers) this.members.set(id, new TestMember(id, peers, seed));
    this.nextId = size + 1;
    this.dropRate = this.random() * 0.1;
    this.duplicateRate = this.random() * 0.05;
    this.maxDelay = Math.floor(this.random() * 4);
  }

  run(faultSteps: number): SimulationResult {
    try {
      for (let i = 0; i < faultSteps; i++) {
        this.stats.steps++;
        this.randomAction();
        this.checkSafety();
      }
      this.liveness();
      this.checkLogMatching();
      return { seed: this.seed, trace: process.env.SIM_KEEP_TRACE ? this.trace : [], stats: this.stats };
    } catch (error) {
      const failure = error instanceof Error ? `${error.message}\n${error instanceof SafetyViolation ? '' : (error.stack ?? '')}` : String(error);
      return { seed: this.seed, failure, trace: this.trace.slice(-TRACE_LINES), stats: this.stats };
    }
  }

  private log(line: string): void {
    this.trace.push(`[${this.stats.steps}] ${line}`);
    if (this.trace.length > TRACE_LINES * 2) this.trace.splice(0, TRACE_LINES);
  }

  private pick<T>(items: readonly T[]): T | undefined {
    return items.length === 0 ? undefined : items[Math.floor(this.random() * items.length)];
  }

  private live(): TestMember[] {
    return [...this.members.values()].filter((m) => !m.crashed);
  }

  private leader(): TestMember | undefined {
    let best: TestMember | undefined;
    for (const m of this.live()) {
      const s = m.node.status();
      if (s.role === 'leader' && (best === undefined || s.term > best.node.status().term)) best = m;
    }
    return best;
  }

  // --- actions -------------------------------------------------------------------------------

  private randomAction(): void {
    const r = this.random();
    if (r < 0.3) this.deliverOne();
    else if (r < 0.45) this.takeReady(this.pick(this.live()));
    else if (r < 0.6) this.persist(this.pick(this.live()));
    else if (r < 0.66) this.tick(this.pick(this.live()));
    else if (r < 0.72) this.tickAll();
    else if (r < 0.8) this.propose(this.pick(this.live()));
    else if (r < 0.84) this.read(this.pick(this.live()));
    else if (r < 0.88) this.now++;
    else if (r < 0.9) this.snapshot(this.pick(this.live()));
    else if (r < 0.905) this.crashOrRestart();
    else if (r < 0.91) this.partitionOrHeal();
    else if (r < 0.915) this.changeMembership();
    else if (r < 0.918) this.transferLeadership();
    else this.takeReady(this.pick(this.live()));
  }

  private sendAll(from: TestMember, messages: readonly Message[], reliable = false): void {
    for (const m of messages) {
      if (!reliable) {
        if (this.blocked.has(`${m.from}>${m.to}`) || this.random() < this.dropRate) {
          this.log(`drop ${describeMessage(m)}`);
          // A transport tells the leader when a snapshot did not get through.
          if (m.type === 'snap' && !from.crashed) from.node.reportSnapshot(m.to, false);
          continue;
        }
        if (this.random() < this.duplicateRate) this.network.push({ message: m, deliverAt: this.now + Math.floor(this.random() * (this.maxDelay + 1)) });
      }
      const delay = reliable ? 0 : Math.floor(this.random() * (this.maxDelay + 1));
      this.network.push({ message: m, deliverAt: this.now + delay });
    }
  }

  private deliverOne(): void {
    const due = this.network.filter((f) => f.deliverAt <= this.now);
    const chosen = this.pick(due);
    if (chosen === undefined) {
      this.now++;
      return;
    }
    this.network.splice(this.network.indexOf(chosen), 1);
    this.deliver(chosen.message);
  }

  private deliver(m: Message): void {
    const to = this.members.get(m.to);
    if (to === undefined || to.crashed) {
      const sender = this.members.get(m.from);
      if (m.type === 'snap' && sender !== undefined && !sender.crashed) sender.node.reportSnapshot(m.to, false);
      return;
    }
    this.log(`deliver ${describeMessage(m)}`);
    // A forwarded proposal the leader cannot take now is dropped: its proposer tries again.
    to.node.step(m);
    const sender = this.members.get(m.from);
    if (m.type === 'snap' && sender !== undefined && !sender.crashed) sender.node.reportSnapshot(m.to, true);
  }

  private takeReady(member: TestMember | undefined): void {
    if (member === undefined) return;
    this.sendAll(member, member.take());
  }

  private persist(member: TestMember | undefined): void {
    if (member === undefined || member.pending === undefined) return;
    this.log(`persist ${member.id}`);
    const snapshot = member.pending.snapshot;
    if (snapshot !== undefined) this.checkSnapshotState(member, snapshot.data, snapshot.meta.index);
    this.sendAll(member, member.persist((m, entry) => this.onApply(m, entry)));
    for (const rs of member.readStates.splice(0)) this.onReadState(member, rs.index, rs.context);
  }

  private tick(member: TestMember | undefined): void {
    member?.node.tick();
  }

  /** Time passes for everyone: one tick on every live member. */
  private tickAll(): void {
    this.now++;
    for (const member of this.live()) member.node.tick();
  }

  private propose(member: TestMember | undefined): void {
    if (member === undefined) return;
    const data = `s${this.seed}-p${++this.proposals}`;
    if (member.node.propose(encoder.encode(data)) !== undefined) return;
    this.proposer.set(data, member.id);
    this.log(`propose ${member.id} ${data}`);
  }

  private read(member: TestMember | undefined): void {
    if (member === undefined) return;
    const context = `r${this.seed}-${this.stats.reads++}`;
    if (member.node.readIndex(context) !== undefined) return;
    // Every write acknowledged before this read was issued must be visible to it.
    this.readFloor.set(context, this.ackedMax);
    this.log(`read ${member.id} ${context} floor ${this.ackedMax}`);
  }

  private snapshot(member: TestMember | undefined): void {
    if (member === undefined || member.pending !== undefined) return;
    member.snapshotAndCompact(Math.floor(this.random() * 5));
    this.stats.snapshots++;
    this.log(`snapshot ${member.id} at ${member.appliedIndex}`);
  }

  private crashOrRestart(): void {
    const crashed = [...this.members.values()].filter((m) => m.crashed);
    if (crashed.length > 0 && this.random() < 0.6) {
      const member = this.pick(crashed)!;
      member.restart();
      this.lastCommit.set(member.id, member.node.status().commit);
      this.log(`restart ${member.id}`);
      return;
    }
    const member = this.pick(this.live());
    if (member === undefined || crashed.length >= 2) return;
    member.crash();
    this.stats.crashes++;
    this.log(`crash ${member.id}`);
  }

  private partitionOrHeal(): void {
    if (this.blocked.size > 0 && this.random() < 0.5) {
      this.blocked.clear();
      this.log('heal');
      return;
    }
    const ids = [...this.members.keys()];
    const isolated = this.pick(ids)!;
    const symmetric = this.random() < 0.7;
    for (const other of ids) {
      if (other === isolated) continue;
      this.blocked.add(`${isolated}>${other}`);
      if (symmetric) this.blocked.add(`${other}>${isolated}`);
    }
    this.log(`partition ${isolated} ${symmetric ? 'symmetric' : 'outbound only'}`);
  }

  private changeMembership(): void {
    const leader = this.leader();
    if (leader === undefined) return;
    const status = leader.node.status();
    if (status.applied < status.commit) return;
    const { voters, learners } = status.confState;
    const r = this.random();
    let change: ConfChange;
    let what: string;
    if (learners.length > 0 && r < 0.4) {
      change = { type: 'addNode', nodeId: learners[0]! };
      what = `promote ${learners[0]}`;
    } else if (voters.length > 3 && r < 0.7) {
      const victim = this.pick(voters)!;
      change = { type: 'removeNode', nodeId: victim };
      what = `remove ${victim}`;
    } else if (voters.length + learners.length < 7) {
      const id = this.nextId++;
      this.members.set(id, new TestMember(id, [], this.seed));
      change = { type: 'addLearner', nodeId: id };
      what = `add learner ${id}`;
    } else {
      return;
    }
    if (leader.node.proposeConfChange(change) !== undefined) return;
    this.log(`conf: ${what}`);
    this.stats.confChanges++;
  }

  private transferLeadership(): void {
    const leader = this.leader();
    if (leader === undefined) return;
    const target = this.pick(leader.node.status().confState.voters.filter((id) => id !== leader.id));
    if (target === undefined) return;
    leader.node.transferLeadership(target);
    this.log(`transfer ${leader.id} -> ${target}`);
  }

  // --- safety --------------------------------------------------------------------------------

  private fail(message: string): never {
    throw new SafetyViolation(`seed ${this.seed}: ${message}`);
  }

  private onElected(member: TestMember): void {
    const { term } = member.node.status();
    this.stats.elections++;
    this.log(`elected ${member.id} term ${term}`);
    // Leader completeness (§5.4): a new leader's log holds every entry applied anywhere.
    const log = member.node.raft.log;
    const first = log.firstIndex();
    for (const [index, data] of this.appliedData) {
      if (index < first) continue;
      if (index > log.lastIndex()) this.fail(`leader ${member.id} (term ${term}) lacks applied entry ${index} (${data}); last index ${log.lastIndex()}`);
      const entry = log.slice(index, index + 1, Number.MAX_SAFE_INTEGER)[0]!;
      const actual = new TextDecoder().decode(entry.data);
      if (actual !== data) this.fail(`leader ${member.id} (term ${term}) has ${JSON.stringify(actual)} at ${index}, applied elsewhere as ${data}`);
    }
  }

  private onApply(member: TestMember, entry: Entry): void {
    if (entry.type !== 'normal' || entry.data.length === 0) return;
    const data = new TextDecoder().decode(entry.data);
    const known = this.appliedData.get(entry.index);
    if (known === undefined) {
      this.appliedData.set(entry.index, data);
      this.stats.committed++;
    } else if (known !== data) {
      this.fail(`member ${member.id} applied ${data} at ${entry.index}, another applied ${known}`);
    }
    if (this.proposer.get(data) === member.id) this.ackedMax = Math.max(this.ackedMax, entry.index);
  }

  private onReadState(member: TestMember, index: number, context: string): void {
    const floor = this.readFloor.get(context);
    if (floor === undefined) return;
    this.readFloor.delete(context);
    if (index < floor) this.fail(`read ${context} on ${member.id} got index ${index} below ${floor}, a write acknowledged before it was issued`);
  }

  private checkSnapshotState(member: TestMember, data: Uint8Array, index: number): void {
    if (data.length === 0) return;
    const entries = JSON.parse(new TextDecoder().decode(data)) as Array<[number, string]>;
    for (const [i, value] of entries) {
      const known = this.appliedData.get(i);
      if (known !== undefined && known !== value) this.fail(`snapshot at ${index} for ${member.id} has ${value} at ${i}, applied elsewhere as ${known}`);
    }
  }

  private checkSafety(): void {
    for (const member of this.live()) {
      const s = member.node.status();
      const seen = this.leaderSeen.get(member.id);
      if (s.role === 'leader' && seen !== s.term) {
        this.leaderSeen.set(member.id, s.term);
        this.onElected(member);
      }
      if (s.role === 'leader') {
        const known = this.leaders.get(s.term);
        if (known === undefined) this.leaders.set(s.term, member.id);
        else if (known !== member.id) this.fail(`two leaders in term ${s.term}: ${known} and ${member.id}`);
      }
      const previous = this.lastCommit.get(member.id) ?? 0;
      if (s.commit < previous) this.fail(`member ${member.id} commit went back from ${previous} to ${s.commit}`);
      this.lastCommit.set(member.id, s.commit);
      if (s.applied > s.commit) this.fail(`member ${member.id} applied ${s.applied} > commit ${s.commit}`);
    }
  }

  /** Log matching (§5.3): where two logs agree on an entry's term, they agree on everything before. */
  private checkLogMatching(): void {
    const logs = this.live().map((m) => ({ id: m.id, log: m.node.raft.log }));
    for (let a = 0; a < logs.length; a++) {
      for (let b = a + 1; b < logs.length; b++) {
        const x = logs[a]!;
        const y = logs[b]!;
        const lo = Math.max(x.log.firstIndex(), y.log.firstIndex());
        let hi = Math.min(x.log.lastIndex(), y.log.lastIndex());
        while (hi >= lo && x.log.term(hi) !== y.log.term(hi)) hi--;
        for (let i = lo; i <= hi; i++) {
          const ex = x.log.slice(i, i + 1, Infinity)[0]!;
          const ey = y.log.slice(i, i + 1, Infinity)[0]!;
          if (ex.term !== ey.term || Buffer.compare(Buffer.from(ex.data), Buffer.from(ey.data)) !== 0) {
            this.fail(`log matching: members ${x.id} and ${y.id} agree at ${hi} but differ at ${i}`);
          }
        }
      }
    }
  }

  // --- liveness ------------------------------------------------------------------------------

  /** With faults gone, a leader must emerge and fresh proposals commit on every member, in bounded ticks. */
  private liveness(): void {
    this.blocked.clear();
    for (const member of this.members.values()) {
      if (member.crashed) {
        member.restart();
        this.lastCommit.set(member.id, member.node.status().commit);
      }
    }
    this.log('liveness: healed, all members up');
    const round = () => {
      this.now++;
      for (const member of this.members.values()) {
        this.tick(member);
        this.sendAll(member, member.take(), true);
        this.persistReliably(member);
      }
      const due = this.network;
      this.network = [];
      for (const f of due) this.deliver(f.message);
      for (const member of this.members.values()) {
        this.sendAll(member, member.take(), true);
        this.persistReliably(member);
      }
      this.checkSafety();
    };
    const MAX_ROUNDS = 400;
    // A proposal taken by a leader that then loses its leadership may be lost: clients retry.
    const fresh = [0, 1, 2].map((i) => `s${this.seed}-live${i}`);
    const proposedAt = new Map<string, number>();
    for (let r = 0; r < MAX_ROUNDS; r++) {
      round();
      const leader = this.leader();
      if (leader === undefined) continue;
      const { voters, learners } = leader.node.status().confState;
      const members = [...voters, ...learners].map((id) => this.members.get(id)!);
      const missing = fresh.filter((data) => members.some((m) => ![...m.applied.values()].includes(data)));
      if (missing.length === 0) return;
      for (const data of missing) {
        if ((proposedAt.get(data) ?? -Infinity) > r - 30) continue;
        if (leader.node.propose(encoder.encode(data)) === undefined) proposedAt.set(data, r);
      }
    }
    const leader = this.leader();
    const states = [...this.members.values()].map((m) => {
      const s = m.node.status();
      const progress = s.role === 'leader' ? ` progress ${[...s.progress].map(([id, p]) => `${id}:${p.state}/${p.match}/${p.next}`).join(' ')}` : '';
      return `  ${m.id}: ${s.role} term ${s.term} lead ${s.lead} commit ${s.commit} applied ${s.applied} last ${s.lastIndex} conf ${s.confState.voters}|${s.confState.learners}${progress}`;
    });
    this.fail(`liveness: after ${MAX_ROUNDS} healed rounds ${leader === undefined ? 'no leader' : `leader ${leader.id} has not committed ${fresh.join(', ')} everywhere`}\n${states.join('\n')}`);
  }

  private persistReliably(member: TestMember): void {
    if (member.pending === undefined) return;
    const snapshot = member.pending.snapshot;
    if (snapshot !== undefined) this.checkSnapshotState(member, snapshot.data, snapshot.meta.index);
    this.sendAll(member, member.persist((m, entry) => this.onApply(m, entry)), true);
    for (const rs of member.readStates.splice(0)) this.onReadState(member, rs.index, rs.context);
  }
}
