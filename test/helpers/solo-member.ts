import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { resolveConfig } from '../../src/server/config.ts';
import { Logger } from '../../src/server/logger.ts';
import type { Member } from '../../src/server/member.ts';
import { startMember } from '../../src/server/start-member.ts';
import { waitUntil } from './trees.ts';

export interface SoloMember {
  readonly member: Member;
  /** Every fail-stop the member reported: a test asserts on them rather than throwing inside the member. */
  readonly fatal: Array<{ what: string; cause: unknown }>;
  readonly lines: string[];
}

/** A single member in-process on `dir` (serve's own wiring), its fatal calls and log lines recorded, once it leads. */
export async function startSoloMember(dir: string, token: string, peerUrl = 'http://127.0.0.1:2'): Promise<SoloMember> {
  const config = resolveConfig({
    name: 'solo', dataDir: dir, listenClientUrls: 'http://127.0.0.1:1', listenPeerUrls: peerUrl,
    initialClusterState: 'new', initialClusterToken: token, snapshotCount: 10_000, snapshotCatchupEntries: 5000,
    heartbeatInterval: 10, electionTimeout: 100, logLevel: 'info', logFormat: 'text', maxRequestBytes: 1 << 20,
  });
  const fatal: Array<{ what: string; cause: unknown }> = [];
  const lines: string[] = [];
  const { member } = await startMember(config, new Logger('info', 'text', (line) => lines.push(line)), undefined, (what, cause) => fatal.push({ what, cause }));
  try {
    await waitUntil('the single member to lead', () => member.isLeader);
  } catch (error) {
    await member.stop();
    throw new Error(`${(error as Error).message}:\n${lines.join('\n')}`, { cause: error });
  }
  return { member, fatal, lines };
}

/**
 * A temp data dir per test, and the member a test keeps there stopped after it, whatever the
 * outcome; `stop` stops it sooner (once).
 */
export function soloMemberPerTest(prefix: string): { dir: () => string; keep: (started: SoloMember) => SoloMember; stop: () => Promise<void> } {
  let dir = '';
  let member: Member | undefined;
  const stop = async (): Promise<void> => {
    const running = member;
    member = undefined;
    await running?.stop();
  };
  beforeEach(async () => (dir = await mkdtemp(path.join(os.tmpdir(), prefix))));
  afterEach(async () => {
    await stop();
    await rm(dir, { recursive: true, force: true });
  });
  return {
    dir: () => dir,
    keep: (started) => {
      member = started.member;
      return started;
    },
    stop,
  };
}
