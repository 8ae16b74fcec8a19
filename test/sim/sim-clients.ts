import type { Member } from '../../src/server/member.ts';
import type { Op, OpKind } from './history.ts';
import { describeOp } from './history.ts';
import type { Scheduler } from './scheduler.ts';
import type { Trace } from './trace.ts';
import type { V2Answer, V2Request } from './v2-requests.ts';
import { keysRequest, watchRequest } from './v2-requests.ts';

/** A member a client may send to now, with that member's clock (the HTTP layer stamps requests with it). */
export interface Target {
  readonly name: string;
  readonly member: Member;
  now(): number;
}

/** Where clients find a member to talk to: any member that is up, or none. */
export interface TargetPicker {
  pick(random: () => number): Target | undefined;
}

/** What the clients do, drawn from the seed. */
export interface Workload {
  readonly clients: number;
  readonly watchers: number;
  /** Register keys shared by all clients: /r0, /r1, ... */
  readonly keys: number;
  /** Mean pause between one client's requests (ms). */
  readonly thinkMs: number;
  /** A client gives up on an answer after this long: its outcome is then unknown. */
  readonly timeoutMs: number;
}

/** What one watcher saw: each event (index, what), and the ranges it skipped after a 401. */
export interface WatchRecord {
  readonly name: string;
  readonly key: string;
  readonly events: Array<{ readonly index: number; readonly text: string; readonly at: number }>;
  readonly skipped: Array<{ readonly from: number; readonly to: number }>;
  /** The waitIndex of the watch in flight when the run ended: events before it were delivered. */
  next: number;
}

export const QUEUE_DIR = '/q';

interface NodeJson {
  key?: string;
  value?: string;
  modifiedIndex?: number;
  expiration?: string;
}

interface AnswerJson {
  action?: string;
  node?: NodeJson;
  prevNode?: NodeJson;
  errorCode?: number;
  index?: number;
}

/** Writes to the shared registers: a client may read back what it wrote. */
const WRITES = new Set<OpKind>(['set', 'cas', 'cad']);

/** The kinds a client draws from, with their weights. */
const MIX: ReadonlyArray<readonly [OpKind, number]> = [['set', 4], ['cas', 3], ['cad', 1], ['qget', 4], ['lget', 2], ['create', 1], ['ttl', 1]];

/**
 * Simulated clients issuing v2 requests to random members, recording every request they make
 * (invocation and completion times, outcome) for the checkers; and watchers that follow one key
 * each with long polls re-armed at the index after the last event they got.
 */
export class SimClients {
  readonly ops: Op[] = [];
  readonly watches: WatchRecord[] = [];
  private readonly scheduler: Scheduler;
  private readonly random: () => number;
  private readonly trace: Trace;
  private readonly targets: TargetPicker;
  private readonly workload: Workload;
  private stopAt = 0;
  private running = 0;
  /** Per client and key, the last value and index it learned: what its CAS and CAD compare. */
  private readonly known = new Map<string, { value: string; index: number }>();
  private ttlKeys = 0;

  constructor(scheduler: Scheduler, random: () => number, trace: Trace, targets: TargetPicker, workload: Workload) {
    this.scheduler = scheduler;
    this.random = random;
    this.trace = trace;
    this.targets = targets;
    this.workload = workload;
  }

  get registerKeys(): string[] {
    return Array.from({ length: this.workload.keys }, (_, i) => `/r${i}`);
  }

  /** Starts the clients and watchers; they issue requests until `stopAt`. */
  start(stopAt: number): void {
    this.stopAt = stopAt;
    for (let c = 0; c < this.workload.clients; c++) void this.client(`c${c}`);
    for (let w = 0; w < this.workload.watchers; w++) void this.watcher(`w${w}`, this.registerKeys[w % this.workload.keys]!);
  }

  /** Whether a request of a client or watcher is still waiting for its answer. */
  get busy(): boolean {
    return this.running > 0;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.scheduler.after(ms, resolve));
  }

  private async client(name: string): Promise<void> {
    this.running++;
    let sequence = 0;
    while (this.scheduler.now < this.stopAt) {
      await this.sleep(1 + Math.floor(this.random() * this.workload.thinkMs * 2));
      const target = this.targets.pick(this.random);
      if (target === undefined || this.scheduler.now >= this.stopAt) continue;
      const op = await this.perform(name, target, this.draw(), `${name}.${++sequence}`);
      // Reading back at once, from any member, is where a read served before its ReadIndex is applied shows.
      const other = this.targets.pick(this.random);
      if (op.outcome === 'ok' && WRITES.has(op.kind) && other !== undefined && this.random() < 0.6) await this.perform(name, other, 'qget', '', op.key);
    }
    this.running--;
  }

  private draw(): OpKind {
    const total = MIX.reduce((sum, [, weight]) => sum + weight, 0);
    let pick = this.random() * total;
    for (const [kind, weight] of MIX) {
      pick -= weight;
      if (pick < 0) return kind;
    }
    return 'set';
  }

  /** Sends one request of `kind` and records it. */
  async perform(client: string, target: Target, kind: OpKind, value: string, key = this.keyFor(client, kind)): Promise<Op> {
    const known = this.known.get(`${client}${key}`);
    const byIndex = known !== undefined && this.random() < 0.5;
    const fields: Partial<Op> = {};
    let request: V2Request;
    switch (kind) {
      case 'set':
        request = { method: 'PUT', key, query: '', body: `value=${value}` };
        Object.assign(fields, { value });
        break;
      case 'ttl': {
        const ttl = 1 + Math.floor(this.random() * 3);
        request = { method: 'PUT', key, query: '', body: `value=${value}&ttl=${ttl}` };
        Object.assign(fields, { value, ttl });
        break;
      }
      case 'cas':
      case 'cad': {
        const compare = byIndex ? `prevIndex=${known.index}` : `prevValue=${known?.value ?? 'none'}`;
        const compared = byIndex ? { prevIndex: known.index } : { prevValue: known?.value ?? 'none' };
        request = kind === 'cas' ? { method: 'PUT', key, query: compare, body: `value=${value}` } : { method: 'DELETE', key, query: compare };
        Object.assign(fields, compared, kind === 'cas' ? { value } : {});
        break;
      }
      case 'qget':
      case 'lget':
        request = { method: 'GET', key, query: kind === 'qget' ? 'quorum=true' : '' };
        break;
      case 'create':
        request = { method: 'POST', key, query: '', body: `value=${value}` };
        Object.assign(fields, { value });
        break;
    }
    const op: Op = { id: this.ops.length, client, member: target.name, kind, key, invoke: this.scheduler.now, complete: Infinity, outcome: 'unknown', ...fields };
    this.ops.push(op);
    const answer = await this.withTimeout(keysRequest(target.member, request, target.now()));
    op.complete = answer === undefined ? Infinity : this.scheduler.now;
    if (answer !== undefined) this.record(op, answer);
    if (op.outcome === 'unknown') op.complete = Infinity;
    this.trace.line(describeOp(op));
    return op;
  }

  /** In-order keys go to the queue, TTLs to the client's own keys, the rest to a shared register. */
  private keyFor(client: string, kind: OpKind): string {
    if (kind === 'create') return QUEUE_DIR;
    if (kind === 'ttl') return `/t${this.ttlKeys++ % 8}-${client}`;
    return this.registerKeys[Math.floor(this.random() * this.workload.keys)]!;
  }

  /** Fills in the op's outcome from the answer, and what the client now knows of the key. */
  private record(op: Op, answer: V2Answer): void {
    const json = JSON.parse(answer.body) as AnswerJson;
    if (answer.status >= 300) {
      // 100 and 101 (and 105, a create's clash) are the store's answers, applied in order;
      // anything else (a timeout, a stopped server) leaves the outcome unknown.
      const code = json.errorCode ?? 0;
      op.errorCode = code;
      op.outcome = code >= 100 && code < 200 ? 'failed' : 'unknown';
      if (op.kind === 'qget' || op.kind === 'lget') {
        op.outcome = code === 100 ? 'ok' : 'failed';
        if (code === 100) Object.assign(op, { found: null, index: 0 });
      }
      return;
    }
    op.outcome = 'ok';
    const node = json.node ?? {};
    if (op.kind === 'qget' || op.kind === 'lget') {
      op.found = node.value ?? null;
      op.index = node.modifiedIndex ?? 0;
    } else {
      op.index = node.modifiedIndex;
      if (op.kind === 'create') op.found = node.key ?? null;
    }
    if (node.value !== undefined && node.modifiedIndex !== undefined) this.known.set(`${op.client}${op.key}`, { value: node.value, index: node.modifiedIndex });
  }

  /** The answer, or undefined if it did not come within the client's timeout. */
  private withTimeout<T>(pending: Promise<T>): Promise<T | undefined> {
    this.running++;
    return new Promise<T | undefined>((resolve, reject) => {
      let settled = false;
      const settle = (run: () => void): void => {
        if (settled) return;
        settled = true;
        this.running--;
        cancel();
        run();
      };
      const cancel = this.scheduler.after(this.workload.timeoutMs, () => settle(() => resolve(undefined)));
      pending.then((value) => settle(() => resolve(value)), (error: unknown) => settle(() => reject(error)));
    });
  }

  /** Follows `key` from index 1: every event once, in order, across members and their restarts. */
  private async watcher(name: string, key: string): Promise<void> {
    const record: WatchRecord = { name, key, events: [], skipped: [], next: 1 };
    this.watches.push(record);
    while (this.scheduler.now < this.stopAt + this.workload.timeoutMs) {
      const target = this.targets.pick(this.random);
      if (target === undefined) {
        await this.sleep(100);
        continue;
      }
      const watch = watchRequest(target.member, { method: 'GET', key, query: `wait=true&waitIndex=${record.next}` }, target.now());
      const answer = await this.withTimeout(watch.answer);
      if (answer === undefined) watch.cancel();
      if (answer === undefined || answer.body === '') continue;
      const json = JSON.parse(answer.body) as AnswerJson;
      if (json.errorCode === 401) {
        // The history no longer holds that index: etcd's clients start again after the index it names.
        const to = json.index ?? record.next;
        record.skipped.push({ from: record.next, to });
        this.trace.line(`${name}@${target.name} watch ${key} from ${record.next}: 401, skips to ${to + 1}`);
        record.next = to + 1;
        continue;
      }
      const index = json.node?.modifiedIndex ?? 0;
      record.events.push({ index, text: answer.body.trim(), at: this.scheduler.now });
      this.trace.line(`${name}@${target.name} watch ${key}: ${json.action} at ${index}`);
      record.next = index + 1;
    }
  }
}
