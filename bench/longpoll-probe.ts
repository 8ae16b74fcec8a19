// The cost of one long-poll re-arm in a member, measured from outside: ONE member (kvd from
// bin/kvd, or etcd 3.4 with PROBE_SYSTEM=etcd) on 127.0.0.1, W watchers on raw keep-alive
// connections doing what etcd v2 clients do (`GET /v2/keys/probe?wait=true&recursive=true&waitIndex=N`,
// again with N = the event's index + 1 after each event), and E writes at R/s on a connection of
// their own. It prints the member's CPU microseconds per re-arm (utime + stime from /proc/<pid>/stat,
// from the first write until every watcher has re-armed after the last event), the delivery p50 and
// p99 (from the write's send to the watcher's receipt) and missed or duplicated events.
//
// CPU per re-arm is the figure of merit: what the member spends does not depend much on how busy
// the machine is, where latencies do. `node bench/longpoll-probe.ts` (after `make`);
// PROBE_WATCHERS (1000), PROBE_EVENTS (100), PROBE_RATE (writes/s, 10), PROBE_SYSTEM (kvd | etcd),
// PROBE_CPU_PROF (a directory: the member runs with --cpu-prof there and is stopped with SIGTERM).
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { TestCluster } from '../test/helpers/cluster.ts';
import { startEtcd } from '../test/helpers/etcd.ts';
import { pidListeningOn } from './member-memory.ts';

const WATCHERS = Number(process.env.PROBE_WATCHERS ?? 1000);
const EVENTS = Number(process.env.PROBE_EVENTS ?? 100);
const RATE = Number(process.env.PROBE_RATE ?? 10);
const SYSTEM = process.env.PROBE_SYSTEM ?? 'kvd';
const CPU_PROF = process.env.PROBE_CPU_PROF;
/** Linux's USER_HZ: /proc/<pid>/stat counts CPU time in these ticks. */
const TICKS_PER_SECOND = 100;
const WATCH_PATH = '/v2/keys/probe';
/** How long the run may take before it is given up (a missed event would hang it). */
const RUN_TIMEOUT_MS = 120_000;

interface Member {
  readonly url: URL;
  readonly pid: number;
  stop(): Promise<void>;
}

async function startMember(): Promise<Member> {
  if (SYSTEM === 'etcd') {
    const etcd = await startEtcd(1);
    return { url: new URL(etcd.endpoint), pid: pidListeningOn(etcd.endpoint)!, stop: () => etcd.stop() };
  }
  if (CPU_PROF !== undefined) process.env.NODE_OPTIONS = `--cpu-prof --cpu-prof-dir=${CPU_PROF}`;
  const cluster = await TestCluster.start(1);
  delete process.env.NODE_OPTIONS;
  const member = cluster.members[0]!;
  const pid = member.process!.pid!;
  return {
    url: new URL(member.clientUrl),
    pid,
    async stop() {
      // A profile is written at a clean exit only.
      if (CPU_PROF !== undefined) await cluster.kill(member, 'SIGTERM');
      await cluster.destroy();
    },
  };
}

/** The process's CPU time so far (user + system), in microseconds. */
function cpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces), 14 and 15 of the whole line.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1e6) / TICKS_PER_SECOND;
}

/** The modifiedIndex of a complete chunked watch answer's event (the node's: it comes first), once it is all there. */
function completeEventIndex(text: string): number | undefined {
  if (!text.endsWith('\r\n0\r\n\r\n')) return undefined;
  const match = /"modifiedIndex":(\d+)/.exec(text);
  if (match === null) throw new Error(`a watch answer without an event: ${text}`);
  return Number(match[1]);
}

/** One long-poll watcher: re-arms at the next index after each event, and records when each arrived. */
class Watcher {
  readonly received: Array<{ index: number; at: number }> = [];
  rearms = 0;
  private readonly socket: net.Socket;
  private readonly host: string;
  private buffered = '';

  private constructor(socket: net.Socket, host: string) {
    this.socket = socket;
    this.host = host;
    socket.setEncoding('latin1');
    socket.on('data', (text: string) => this.take(text));
  }

  static connect(url: URL): Promise<Watcher> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(Number(url.port), url.hostname, () => resolve(new Watcher(socket, url.host)));
      socket.once('error', reject);
    });
  }

  arm(waitIndex: number): void {
    this.rearms++;
    this.socket.write(`GET ${WATCH_PATH}?wait=true&recursive=true&waitIndex=${waitIndex} HTTP/1.1\r\nHost: ${this.host}\r\n\r\n`);
  }

  get lastIndex(): number {
    return this.received.at(-1)?.index ?? 0;
  }

  close(): void {
    this.socket.destroy();
  }

  private take(text: string): void {
    this.buffered += text;
    const index = completeEventIndex(this.buffered);
    if (index === undefined) return;
    this.buffered = '';
    this.received.push({ index, at: performance.now() });
    this.arm(index + 1);
  }
}

/** Writes `count` events at `rate`/s on one keep-alive connection; resolves with each write's send time by index. */
async function writeEvents(url: URL, count: number, rate: number): Promise<Map<number, number>> {
  const sentAt = new Map<number, number>();
  const socket = await new Promise<net.Socket>((resolve, reject) => {
    const s = net.connect(Number(url.port), url.hostname, () => resolve(s));
    s.once('error', reject);
  });
  socket.setEncoding('latin1');
  let buffered = '';
  let answered: ((index: number) => void) | undefined;
  socket.on('data', (text: string) => {
    buffered += text;
    const end = buffered.indexOf('\r\n\r\n');
    if (end < 0) return;
    const length = Number(/content-length: (\d+)/i.exec(buffered.slice(0, end))![1]);
    if (buffered.length < end + 4 + length) return;
    const index = Number(/x-etcd-index: (\d+)/i.exec(buffered.slice(0, end))![1]);
    buffered = '';
    answered?.(index);
  });
  const start = performance.now();
  for (let n = 0; n < count; n++) {
    const due = start + (n * 1000) / rate;
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, due - performance.now())));
    const body = `value=v${n}`;
    const sent = performance.now();
    const index = await new Promise<number>((resolve) => {
      answered = resolve;
      socket.write(`PUT ${WATCH_PATH}/k${n % 10} HTTP/1.1\r\nHost: ${url.host}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    });
    sentAt.set(index, sent);
  }
  socket.destroy();
  return sentAt;
}

/** Resolves once every watcher has received the event at `index` (and so re-armed after it). */
async function allReceived(watchers: readonly Watcher[], index: number): Promise<void> {
  const deadline = Date.now() + RUN_TIMEOUT_MS;
  while (watchers.some((w) => w.lastIndex < index)) {
    if (Date.now() > deadline) throw new Error(`watchers did not all receive event ${index}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!;
}

async function probe(member: Member): Promise<void> {
  const watchers: Watcher[] = [];
  try {
    for (let i = 0; i < WATCHERS; i++) watchers.push(await Watcher.connect(member.url));
    // The first write's index is not known yet: arm at the current index + 1.
    const current = await fetch(new URL(`/v2/keys/`, member.url)).then((r) => Number(r.headers.get('x-etcd-index')));
    for (const watcher of watchers) watcher.arm(current + 1);
    const rearmsBefore = watchers.reduce((sum, w) => sum + w.rearms, 0);
    const cpuBefore = cpuMicros(member.pid);
    const sentAt = await writeEvents(member.url, EVENTS, RATE);
    const last = Math.max(...sentAt.keys());
    await allReceived(watchers, last);
    const cpu = cpuMicros(member.pid) - cpuBefore;
    const rearms = watchers.reduce((sum, w) => sum + w.rearms, 0) - rearmsBefore;
    const latencies: number[] = [];
    let missed = 0;
    let duplicated = 0;
    for (const watcher of watchers) {
      const seen = new Set<number>();
      for (const { index, at } of watcher.received) {
        if (seen.has(index)) duplicated++;
        seen.add(index);
        const sent = sentAt.get(index);
        if (sent !== undefined) latencies.push(at - sent);
      }
      for (const index of sentAt.keys()) if (!seen.has(index)) missed++;
    }
    latencies.sort((a, b) => a - b);
    console.log(
      `${SYSTEM}: ${WATCHERS} watchers, ${EVENTS} events at ${RATE}/s: ${rearms} re-arms, member CPU ${(cpu / 1e6).toFixed(2)} s, ` +
        `${(cpu / rearms).toFixed(1)} µs per re-arm; delivery p50 ${percentile(latencies, 50).toFixed(1)} ms, p99 ${percentile(latencies, 99).toFixed(1)} ms; ` +
        `missed ${missed}, duplicated ${duplicated}`,
    );
  } finally {
    for (const watcher of watchers) watcher.close();
  }
}

const member = await startMember();
try {
  await probe(member);
} finally {
  await member.stop();
}
