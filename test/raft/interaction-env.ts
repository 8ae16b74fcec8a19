import { describeEntry, describeMessage, describeReady } from '../../src/raft/describe.ts';
import type { Dropped } from '../../src/raft/errors.ts';
import type { ConfChangeType, Message, NodeId } from '../../src/raft/types.ts';
import { TestMember } from './harness.ts';

/**
 * The interpreter of the scripted tests (test/raft/testdata/*.txt). Each command prints what
 * happened as describe lines; the files hold the expected output beside each command.
 *
 *   add-nodes N [prevote=false] [checkquorum=false]   members 1..N of a new cluster, bootstrapped
 *   campaign ID | tick-election ID | tick-heartbeat ID | tick ID [N]
 *   propose ID DATA | propose-batch ID DATA... | read-index ID CONTEXT
 *   process-ready ID... | take-ready ID... | persist ID... (take/persist: a Ready in two halves)
 *   deliver-msgs ID... | drop-msgs ID...              messages queued for those members
 *   stabilize [ID...]                                 ready and deliver until nothing moves
 *   partition ID... | heal                            messages across the cut are dropped
 *   transfer-leadership FROM TO | propose-conf-change ID TYPE NODE
 *   report-unreachable ID PEER | report-snapshot ID PEER ok|fail
 *   snapshot ID [KEEP] | crash ID | restart ID | add-member ID
 *   status ID... | raft-log ID | applied ID
 */
export class InteractionEnv {
  private readonly members = new Map<NodeId, TestMember>();
  private queue: Message[] = [];
  private partitioned: Set<NodeId> | undefined;
  private out: string[] = [];

  run(command: string): string {
    this.out = [];
    const [name, ...args] = command.trim().split(/\s+/);
    const ids = () => (args.length > 0 ? args.map(Number) : [...this.members.keys()]);
    try {
      switch (name) {
        case 'add-nodes':
          this.addNodes(Number(args[0]), options(args.slice(1)));
          break;
        case 'add-member':
          this.members.set(Number(args[0]), new TestMember(Number(args[0]), [], 1));
          this.print('ok');
          break;
        case 'campaign':
          this.member(args[0]).node.campaign();
          this.print('ok');
          break;
        case 'tick':
          for (let i = 0; i < Number(args[1] ?? 1); i++) this.member(args[0]).node.tick();
          this.print('ok');
          break;
        case 'tick-election':
          this.tickUntil(args[0]!, (m) => m.node.raft.randomizedElectionTimeout);
          break;
        case 'tick-heartbeat':
          this.tickUntil(args[0]!, () => 1);
          break;
        case 'propose':
          this.guard(() => this.member(args[0]).node.propose(new TextEncoder().encode(args.slice(1).join(' '))));
          break;
        case 'propose-batch':
          this.guard(() => this.member(args[0]).node.proposeBatch(args.slice(1).map((d) => new TextEncoder().encode(d))));
          break;
        case 'read-index':
          this.guard(() => this.member(args[0]).node.readIndex(args[1]!));
          break;
        case 'propose-conf-change':
          this.guard(() => this.member(args[0]).node.proposeConfChange({ type: args[1] as ConfChangeType, nodeId: Number(args[2]) }));
          break;
        case 'transfer-leadership':
          this.member(args[0]).node.transferLeadership(Number(args[1]));
          this.print('ok');
          break;
        case 'report-unreachable':
          this.member(args[0]).node.reportUnreachable(Number(args[1]));
          this.print('ok');
          break;
        case 'report-snapshot':
          this.member(args[0]).node.reportSnapshot(Number(args[1]), args[2] === 'ok');
          this.print('ok');
          break;
        case 'process-ready':
          for (const id of ids()) this.processReady(id, true, true);
          break;
        case 'take-ready':
          for (const id of ids()) this.processReady(id, true, false);
          break;
        case 'persist':
          for (const id of ids()) this.processReady(id, false, true);
          break;
        case 'deliver-msgs':
          for (const id of ids()) this.deliver(id, false);
          break;
        case 'drop-msgs':
          for (const id of ids()) this.deliver(id, true);
          break;
        case 'stabilize':
          this.stabilize(ids());
          break;
        case 'partition':
          this.partitioned = new Set(args.map(Number));
          this.print('ok');
          break;
        case 'heal':
          this.partitioned = undefined;
          this.print('ok');
          break;
        case 'snapshot':
          this.member(args[0]).snapshotAndCompact(Number(args[1] ?? 0));
          this.print(`snapshot at ${this.member(args[0]).storage.snapshot().meta.index}, first index ${this.member(args[0]).storage.firstIndex()}`);
          break;
        case 'crash':
          this.member(args[0]).crash();
          this.queue = this.queue.filter((m) => m.to !== Number(args[0]));
          this.print('ok');
          break;
        case 'restart':
          this.member(args[0]).restart();
          this.print('ok');
          break;
        case 'status':
          for (const id of ids()) this.status(id);
          break;
        case 'raft-log':
          this.raftLog(Number(args[0]));
          break;
        case 'applied':
          this.print([...this.member(args[0]).applied.values()].join(' ') || '(nothing)');
          break;
        default:
          throw new Error(`unknown command ${name}`);
      }
    } catch (error) {
      this.print(`error: ${error instanceof Error ? error.message : String(error)}`);
    }
    return this.out.join('\n');
  }

  private print(line: string): void {
    this.out.push(line);
  }

  private member(id: string | undefined): TestMember {
    const member = this.members.get(Number(id));
    if (member === undefined) throw new Error(`no member ${id}`);
    return member;
  }

  private guard(run: () => Dropped | undefined): void {
    const result = run();
    this.print(result === undefined ? 'ok' : `dropped: ${result.dropped}`);
  }

  private addNodes(n: number, opts: Record<string, string>): void {
    const peers = Array.from({ length: n }, (_, i) => i + 1);
    for (const id of peers) {
      this.members.set(id, new TestMember(id, peers, 1, { preVote: opts.prevote !== 'false', checkQuorum: opts.checkquorum !== 'false' }));
      // Bootstrap entries are durable before anything else happens, as on a server's first start.
      this.members.get(id)!.processReady();
    }
    this.print(`added ${peers.join(' ')}`);
  }

  private tickUntil(id: string, ticks: (m: TestMember) => number): void {
    const member = this.member(id);
    for (let i = ticks(member); i > 0; i--) member.node.tick();
    this.print('ok');
  }

  private processReady(id: NodeId, take: boolean, persist: boolean): void {
    const member = this.members.get(id)!;
    if (member.crashed) return;
    if (take) {
      if (member.pending !== undefined || !member.node.hasReady()) {
        if (!persist) this.print(`> ${id}: no ready`);
      } else {
        const sent = member.take();
        this.print(`> ${id} handling Ready`);
        for (const line of describeReady(member.pending!)) this.print(`  ${line}`);
        this.queue.push(...sent);
      }
    }
    if (persist && member.pending !== undefined) {
      if (!take) this.print(`> ${id} persisted its Ready`);
      this.queue.push(...member.persist());
      for (const rs of member.readStates.splice(0)) this.print(`  ${id} read ${rs.context} at index ${rs.index}`);
    }
  }

  private deliver(id: NodeId, drop: boolean): boolean {
    const mine = this.queue.filter((m) => m.to === id);
    this.queue = this.queue.filter((m) => m.to !== id);
    for (const m of mine) {
      const cut = this.partitioned !== undefined && this.partitioned.has(m.from) !== this.partitioned.has(m.to);
      if (drop || cut) {
        this.print(`dropped: ${describeMessage(m)}`);
        continue;
      }
      this.print(describeMessage(m));
      const target = this.members.get(id)!;
      if (target.crashed) continue;
      const result = target.node.step(m);
      if (result !== undefined) this.print(`  dropped: ${result.dropped}`);
    }
    return mine.length > 0;
  }

  private stabilize(ids: NodeId[]): void {
    for (let round = 0; round < 100; round++) {
      let moved = false;
      for (const id of ids) {
        if (this.members.get(id)!.node.hasReady() && !this.members.get(id)!.crashed) {
          this.processReady(id, true, true);
          moved = true;
        }
      }
      for (const id of ids) if (this.deliver(id, false)) moved = true;
      if (!moved) return;
    }
    throw new Error('stabilize: still moving after 100 rounds');
  }

  private status(id: NodeId): void {
    const s = this.members.get(id)!.node.status();
    const progress = s.role === 'leader' ? ` | ${[...s.progress].map(([pid, p]) => `${pid}:${p.state} match=${p.match} next=${p.next}`).join(', ')}` : '';
    const conf = `voters=${s.confState.voters.join(',')}${s.confState.learners.length > 0 ? ` learners=${s.confState.learners.join(',')}` : ''}`;
    this.print(`${id}: ${s.role} term=${s.term} lead=${s.lead} commit=${s.commit} applied=${s.applied} last=${s.lastIndex} ${conf}${progress}`);
  }

  private raftLog(id: NodeId): void {
    const log = this.members.get(id)!.node.raft.log;
    const entries = log.lastIndex() >= log.firstIndex() ? log.slice(log.firstIndex(), log.lastIndex() + 1, Infinity) : [];
    if (entries.length === 0) this.print('(empty log)');
    for (const entry of entries) this.print(describeEntry(entry));
  }
}

function options(args: readonly string[]): Record<string, string> {
  return Object.fromEntries(args.map((a) => a.split('=') as [string, string]));
}
