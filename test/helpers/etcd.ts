import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './ports.ts';

export interface EtcdProcess {
  /** The first member's client URL. */
  readonly endpoint: string;
  /** Every member's client URL. */
  readonly endpoints: readonly string[];
  /** Every member's peer URL. */
  readonly peers: readonly string[];
  /** Sends a signal to member `index` (SIGKILL: it is gone for good). */
  kill(index: number, signal?: NodeJS.Signals): void;
  /** Stops member `index` (SIGTERM), starts it again on the same data dir and ports, and waits until it answers /health. */
  restart(index: number): Promise<void>;
  stop(): Promise<void>;
}

const ETCD_BIN = process.env.ETCD_BIN ?? '/usr/bin/etcd';

async function waitHealthy(endpoint: string, children: readonly ChildProcess[], stderr: () => string, stop: () => Promise<void>): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const dead = children.find((c) => c.exitCode !== null);
    if (dead !== undefined) {
      await stop();
      throw new Error(`etcd exited with ${dead.exitCode}: ${stderr().slice(-500)}`);
    }
    try {
      const response = await fetch(`${endpoint}/health`);
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`etcd did not become healthy: ${stderr().slice(-500)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Starts etcd 3.4 with the v2 API, `size` members, on 127.0.0.1 with ephemeral ports and temp data
 * dirs, and waits until every member answers /health. The reference kvd and kvctl are tested against.
 */
export async function startEtcd(size = 1): Promise<EtcdProcess> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'kvd-test-etcd-'));
  const members: Array<{ name: string; client: string; peer: string }> = [];
  for (let i = 0; i < size; i++) members.push({ name: `e${i + 1}`, client: `http://127.0.0.1:${await freePort()}`, peer: `http://127.0.0.1:${await freePort()}` });
  const initialCluster = members.map((m) => `${m.name}=${m.peer}`).join(',');
  let stderr = '';
  const spawnMember = (m: { name: string; client: string; peer: string }): ChildProcess => {
    const child = spawn(
      ETCD_BIN,
      [
        '--name', m.name,
        '--data-dir', path.join(root, m.name),
        '--enable-v2=true',
        '--listen-client-urls', m.client,
        '--advertise-client-urls', m.client,
        '--listen-peer-urls', m.peer,
        '--initial-advertise-peer-urls', m.peer,
        '--initial-cluster', initialCluster,
        '--heartbeat-interval', '50',
        '--election-timeout', '500',
        '--log-level', 'error',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    return child;
  };
  const exitOf = (child: ChildProcess): Promise<void> => new Promise<void>((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve())));
  const children: ChildProcess[] = members.map(spawnMember);
  const stop = async (): Promise<void> => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await Promise.all(children.map(exitOf));
    await rm(root, { recursive: true, force: true });
  };
  for (const m of members) await waitHealthy(m.client, children, () => stderr, stop);
  return {
    endpoint: members[0]!.client,
    endpoints: members.map((m) => m.client),
    peers: members.map((m) => m.peer),
    kill: (index, signal = 'SIGKILL') => void children[index]!.kill(signal),
    async restart(index) {
      children[index]!.kill('SIGTERM');
      await exitOf(children[index]!);
      children[index] = spawnMember(members[index]!);
      await waitHealthy(members[index]!.client, children, () => stderr, stop);
    },
    stop,
  };
}
