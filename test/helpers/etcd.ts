import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './ports.ts';

export interface EtcdProcess {
  readonly endpoint: string;
  stop(): Promise<void>;
}

const ETCD_BIN = process.env.ETCD_BIN ?? '/usr/bin/etcd';

/**
 * Starts a one-member etcd 3.4 with the v2 API on 127.0.0.1, ephemeral ports and a temp data dir,
 * and waits until it answers /health. The reference that kvctl is tested against.
 */
export async function startEtcd(): Promise<EtcdProcess> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'kvd-test-etcd-'));
  const clientPort = await freePort();
  const peerPort = await freePort();
  const client = `http://127.0.0.1:${clientPort}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  const child: ChildProcess = spawn(
    ETCD_BIN,
    [
      '--name', 'default',
      '--data-dir', dataDir,
      '--enable-v2=true',
      '--listen-client-urls', client,
      '--advertise-client-urls', client,
      '--listen-peer-urls', peer,
      '--initial-advertise-peer-urls', peer,
      '--initial-cluster', `default=${peer}`,
      '--log-level', 'error',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
    await rm(dataDir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`etcd exited with ${child.exitCode}: ${stderr.slice(-500)}`);
    }
    try {
      const response = await fetch(`${client}/health`);
      if (response.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`etcd did not become healthy: ${stderr.slice(-500)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { endpoint: client, stop };
}
