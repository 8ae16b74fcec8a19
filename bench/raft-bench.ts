// make bench-raft: entries per second through a 3-member cluster driven by the Raft core alone
// (proposals batched, messages delivered in-process, storage in memory, 128-byte entries), the
// median of 5 runs, and the top allocation sites of one run (V8's sampling heap profiler).
// A benchmark, not a test: it asserts nothing.
import { Session } from 'node:inspector/promises';
import { RawNode } from '../src/raft/raw-node.ts';
import { seededRandom } from '../src/raft/rand.ts';
import { MemoryStorage } from '../src/raft/storage.ts';
import type { Message } from '../src/raft/types.ts';

const ENTRIES = Number(process.env.ENTRIES ?? 1_000_000);
const BATCH = Number(process.env.BATCH ?? 1024);
const RUNS = 5;
const payload = new Uint8Array(128).fill(7);

interface Member {
  node: RawNode;
  storage: MemoryStorage;
  applied: number;
}

function cluster(): Member[] {
  const peers = [1, 2, 3];
  return peers.map((id) => {
    const storage = new MemoryStorage();
    const node = new RawNode({
      id,
      electionTick: 10,
      heartbeatTick: 1,
      storage,
      maxSizePerMsg: 4 * 1024 * 1024,
      maxInflightMsgs: 256,
      checkQuorum: true,
      preVote: true,
      random: seededRandom(id),
      peers,
    });
    return { node, storage, applied: 0 };
  });
}

/** One Ready per member, its messages delivered at once: a synchronous in-process driver. */
function pump(members: Member[]): boolean {
  const outbox: Message[] = [];
  let moved = false;
  for (const m of members) {
    if (!m.node.hasReady()) continue;
    moved = true;
    const rd = m.node.ready();
    m.storage.append(rd.entries);
    if (rd.hardState !== undefined) m.storage.setHardState(rd.hardState);
    const last = rd.committedEntries[rd.committedEntries.length - 1];
    if (last !== undefined) m.applied = last.index;
    for (const msg of rd.messages) outbox.push(msg);
    for (const msg of rd.messagesAfterSync) outbox.push(msg);
    m.node.advance(rd);
    // Keep the in-memory log bounded, as a snapshotting server does.
    if (m.applied - m.storage.firstIndex() > 200_000) m.storage.compact(m.applied - 10_000);
  }
  for (const msg of outbox) members[msg.to - 1]!.node.step(msg);
  return moved;
}

function run(): number {
  const members = cluster();
  while (pump(members)) {
    // bootstrap
  }
  members[0]!.node.campaign();
  while (pump(members)) {
    // election
  }
  const leader = members[0]!;
  const start = leader.applied;
  const batch = Array.from({ length: BATCH }, () => payload);
  const started = performance.now();
  let proposed = 0;
  while (leader.applied - start < ENTRIES) {
    if (proposed < ENTRIES) {
      leader.node.proposeBatch(batch);
      proposed += BATCH;
    }
    pump(members);
  }
  return (leader.applied - start) / ((performance.now() - started) / 1000);
}

interface ProfileNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: ProfileNode[];
}

async function allocationTop(): Promise<string[]> {
  const session = new Session();
  session.connect();
  await session.post('HeapProfiler.startSampling', { samplingInterval: 4096 });
  run();
  const { profile } = (await session.post('HeapProfiler.stopSampling')) as { profile: { head: ProfileNode } };
  session.disconnect();
  const bySite = new Map<string, number>();
  const visit = (node: ProfileNode): void => {
    const { functionName, url, lineNumber } = node.callFrame;
    const site = `${functionName || '(anonymous)'} ${url.split('/').slice(-2).join('/')}:${lineNumber + 1}`;
    bySite.set(site, (bySite.get(site) ?? 0) + node.selfSize);
    node.children.forEach(visit);
  };
  visit(profile.head);
  const total = [...bySite.values()].reduce((a, b) => a + b, 0);
  return [...bySite]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 8)
    .map(([site, bytes]) => `  ${((100 * bytes) / total).toFixed(1).padStart(5)}%  ${site}`);
}

const rates: number[] = [];
for (let i = 0; i < RUNS; i++) rates.push(run());
rates.sort((a, b) => a - b);
console.log(`raft benchmark: 3 members in-process, ${ENTRIES.toLocaleString('en')} entries of 128 bytes per run, proposals in batches of ${BATCH}, node ${process.version}`);
console.log(`entries/s: median ${Math.round(rates[2]!).toLocaleString('en')} (min ${Math.round(rates[0]!).toLocaleString('en')}, max ${Math.round(rates[4]!).toLocaleString('en')})   goal >= 1,000,000/s`);
console.log('allocation sites (sampled, share of bytes allocated in one run):');
for (const line of await allocationTop()) console.log(line);
