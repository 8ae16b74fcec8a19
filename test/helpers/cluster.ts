import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { KVD_BIN, requireBinary } from './binary.ts';
import { freePort } from './ports.ts';

export interface ClusterMember {
  readonly name: string;
  readonly clientUrl: string;
  readonly peerUrl: string;
  readonly dataDir: string;
  process: ChildProcess | undefined;
  /** Resolves with the exit code once the process has exited and its stderr is all read. */
  closed: Promise<number | null>;
  log: string;
}

export interface ClusterOptions {
  readonly clientScheme?: 'http' | 'https';
  readonly peerScheme?: 'http' | 'https';
  /** What waitHealthy uses to reach https client URLs. */
  readonly clientTls?: { readonly ca: string; readonly cert: string; readonly key: string };
  /** Data dirs by member name, for members whose data must live elsewhere (a small disk, ...). */
  readonly dataDirs?: Readonly<Record<string, string>>;
}

/**
 * Members of a kvd cluster started from the built binary on 127.0.0.1 with ephemeral ports and
 * temp data dirs. `destroy()` kills every process it started and removes the dirs.
 */
export class TestCluster {
  readonly members: ClusterMember[];
  private readonly root: string;
  private readonly extraFlags: readonly string[];

  private readonly options: ClusterOptions;

  private constructor(root: string, members: ClusterMember[], extraFlags: readonly string[], options: ClusterOptions) {
    this.root = root;
    this.members = members;
    this.extraFlags = extraFlags;
    this.options = options;
  }

  static async start(size: number, extraFlags: readonly string[] = [], options: ClusterOptions = {}): Promise<TestCluster> {
    const cluster = await TestCluster.create(size, extraFlags, options);
    try {
      for (const member of cluster.members) cluster.launch(member);
      await cluster.waitHealthy();
    } catch (error) {
      // The caller never gets the cluster, so cannot destroy it: no member may outlive the failure.
      await cluster.destroy();
      throw error;
    }
    return cluster;
  }

  /** The members' ports and data dirs, none started (fill their data dirs, then `launch` each). */
  static async create(size: number, extraFlags: readonly string[] = [], options: ClusterOptions = {}): Promise<TestCluster> {
    const root = await mkdtemp(path.join(os.tmpdir(), 'kvd-test-cluster-'));
    const members: ClusterMember[] = [];
    const client = options.clientScheme ?? 'http';
    const peer = options.peerScheme ?? 'http';
    for (let i = 0; i < size; i++) {
      const name = `m${i + 1}`;
      members.push({ name, clientUrl: `${client}://127.0.0.1:${await freePort()}`, peerUrl: `${peer}://127.0.0.1:${await freePort()}`, dataDir: options.dataDirs?.[name] ?? path.join(root, name), process: undefined, closed: Promise.resolve(null), log: '' });
    }
    return new TestCluster(root, members, extraFlags, options);
  }

  get endpoints(): string {
    return this.members.map((m) => m.clientUrl).join(',');
  }

  member(name: string): ClusterMember {
    return this.members.find((m) => m.name === name)!;
  }

  /** A new member's ports and data dir (not started): add it to the cluster, then `launch(m, true)`. */
  async prepare(name: string): Promise<ClusterMember> {
    const member: ClusterMember = { name, clientUrl: `${this.options.clientScheme ?? 'http'}://127.0.0.1:${await freePort()}`, peerUrl: `${this.options.peerScheme ?? 'http'}://127.0.0.1:${await freePort()}`, dataDir: path.join(this.root, name), process: undefined, closed: Promise.resolve(null), log: '' };
    this.members.push(member);
    return member;
  }

  launch(member: ClusterMember, joining = false): void {
    const initialCluster = this.members.map((m) => `${m.name}=${m.peerUrl}`).join(',');
    const join = joining ? ['--initial-cluster-state', 'existing'] : [];
    const child = spawn(
      KVD_BIN,
      [
        'serve', '--name', member.name, '--data-dir', member.dataDir,
        '--listen-client-urls', member.clientUrl, '--listen-peer-urls', member.peerUrl,
        '--initial-cluster', initialCluster, '--heartbeat-interval', '50', '--election-timeout', '500',
        ...join,
        ...this.extraFlags,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    child.stderr?.on('data', (chunk: Buffer) => (member.log += chunk.toString()));
    member.process = child;
    member.closed = new Promise((resolve) => child.once('close', (code) => resolve(code)));
  }

  /** Resolves when every running member answers /health with a leader. */
  async waitHealthy(timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (const member of this.members.filter((m) => m.process !== undefined)) {
      for (;;) {
        if (await this.answersHealthy(member.clientUrl)) break;
        if (Date.now() > deadline) throw new Error(`${member.name} is not healthy:\n${member.log.slice(-2000)}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  }

  /** Whether GET /health answers 200 (over https, trusting the options' CA and showing its client certificate). */
  answersHealthy(clientUrl: string): Promise<boolean> {
    const url = new URL('/health', clientUrl);
    const tls = this.options.clientTls;
    return new Promise((resolve) => {
      const request = (url.protocol === 'https:' ? https : http).get(url, { timeout: 2000, ...(tls ? { ca: readFileSync(tls.ca), cert: readFileSync(tls.cert), key: readFileSync(tls.key) } : {}) }, (response) => {
        response.resume();
        resolve(response.statusCode === 200);
      });
      request.on('timeout', () => request.destroy());
      request.on('error', () => resolve(false));
    });
  }

  /** Resolves when the member's log (its stderr, which arrives asynchronously) matches. */
  async waitForLog(member: ClusterMember, pattern: RegExp, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pattern.test(member.log)) {
      if (Date.now() > deadline) throw new Error(`${member.name}'s log never matched ${pattern}:\n${member.log.slice(-2000)}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  async kill(member: ClusterMember, signal: NodeJS.Signals = 'SIGKILL'): Promise<number | null> {
    const child = member.process;
    if (child === undefined) return null;
    member.process = undefined;
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    return member.closed;
  }

  async destroy(): Promise<void> {
    await Promise.all(this.members.map((m) => this.kill(m)));
    await rm(this.root, { recursive: true, force: true });
  }
}

/**
 * A cluster of `size` members for the enclosing describe: started in its before hook (after
 * checking that the binary is built), destroyed in its after hook whatever the outcome. Call it in
 * the describe's body; the accessor gives the cluster once the before hook has run.
 */
export function clusterPerSuite(size: number, extraFlags: readonly string[] = [], options: ClusterOptions = {}): () => TestCluster {
  let cluster: TestCluster | undefined;
  before(async () => {
    requireBinary();
    cluster = await TestCluster.start(size, extraFlags, options);
  });
  after(async () => cluster?.destroy());
  return () => {
    if (cluster === undefined) throw new Error('the cluster is started in the before hook: use it in tests and later hooks only');
    return cluster;
  };
}

/**
 * Waits for processes started side by side (each promise assigning what it started where the
 * after hook finds it), and only then fails with the first failure: with Promise.all, one that was
 * still starting when another failed would be assigned after the after hook had run, and left running.
 */
export async function allStarted(starts: ReadonlyArray<Promise<unknown>>): Promise<void> {
  const outcomes = await Promise.allSettled(starts);
  const failed = outcomes.find((outcome) => outcome.status === 'rejected');
  if (failed !== undefined) throw failed.reason;
}
