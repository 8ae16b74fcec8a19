import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { KVCTL_BIN, background, kvctlAgainst, requireBinary, stopBackgrounds } from '../helpers/binary.ts';
import { TestCluster } from '../helpers/cluster.ts';
import { waitUntil } from '../helpers/trees.ts';

/** Whether a process runs (a zombie, stopped but not yet reaped, does not count). */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

describe('kvctl lock: --try, --wait-timeout, counting semaphores (--limit)', function () {
  this.timeout(60_000);
  let cluster: TestCluster;
  let scratch: string;
  const { kvctl, bg, holdLock } = kvctlAgainst(() => cluster.endpoints);

  before(async () => {
    requireBinary();
    cluster = await TestCluster.start(1);
    scratch = await mkdtemp(path.join(os.tmpdir(), 'kvd-test-lock-'));
  });
  afterEach(stopBackgrounds);
  after(async () => {
    await cluster?.destroy();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  it('--limit 3: 3 of 5 contenders hold it at once, the others say they wait and go in as places free', async () => {
    const log = path.join(scratch, 'semaphore-log');
    const release = path.join(scratch, 'semaphore-release');
    writeFileSync(log, '');
    const holder = `echo in >> ${log}; while [ ! -e ${release} ]; do sleep 0.02; done; echo out >> ${log}`;
    const contenders = Array.from({ length: 5 }, () => bg('lock', 'encoders', '--limit', '3', '--', 'sh', '-c', holder));
    const entered = () => readFileSync(log, 'utf8').split('\n').filter((line) => line === 'in').length;
    await waitUntil('3 holders', () => entered() === 3);
    await waitUntil('2 waiters', () => contenders.filter((c) => /^waiting for lock encoders: held by /m.test(c.stderr)).length === 2);
    assert.equal(entered(), 3, 'no more than 3 hold it');
    writeFileSync(release, '');
    assert.deepEqual(await Promise.all(contenders.map((c) => c.closed)), [0, 0, 0, 0, 0]);
    let holding = 0;
    for (const line of readFileSync(log, 'utf8').split('\n').filter(Boolean)) {
      holding += line === 'in' ? 1 : -1;
      assert.ok(holding <= 3, `at most 3 at once: ${readFileSync(log, 'utf8')}`);
    }
    assert.equal(entered(), 5);
  });

  it('a lost session stops the command\'s whole process group (its grandchild too), and kvctl exits 6', async () => {
    const pidFile = path.join(scratch, 'grandchild.pid');
    const locker = bg('lock', 'lost', '--ttl', '3', '--', 'sh', '-c', `sleep 1000 & echo $! > ${pidFile}; wait`);
    await waitUntil('the grandchild', () => existsSync(pidFile) && readFileSync(pidFile, 'utf8').endsWith('\n'));
    const grandchild = Number(readFileSync(pidFile, 'utf8'));
    assert.ok(alive(grandchild));
    const key = (await kvctl('ls', '/_kvctl/locks/lost')).stdout.trim();
    assert.equal((await kvctl('del', key)).code, 0, 'the session is lost: its key is gone');
    assert.equal(await locker.closed, 6, locker.stderr);
    await waitUntil('the grandchild to be stopped', () => !alive(grandchild));
  });

  it('--try exits 3 at once while the lock is held, and takes it when it is free', async () => {
    const holder = await holdLock('deploy');
    const marker = path.join(scratch, 'try-ran');
    const refused = await kvctl('lock', 'deploy', '--try', '--', 'touch', marker);
    assert.equal(refused.code, 3, refused.stderr);
    assert.match(refused.stderr, /^waiting for lock deploy: held by .+:\d+\nError: lock deploy is held by .+:\d+\n$/);
    assert.equal(existsSync(marker), false, 'the command did not run');
    assert.equal(await holder.stop('SIGTERM'), 128 + 15);
    const taken = await kvctl('lock', 'deploy', '--try', '--', 'touch', marker);
    assert.deepEqual(taken, { code: 0, stdout: '', stderr: '' });
    assert.equal(existsSync(marker), true);
  });

  it('--wait-timeout gives up with exit 3 when the lock is still held', async () => {
    await holdLock('slow');
    const result = await kvctl('lock', 'slow', '--wait-timeout', '500ms', '--', 'true');
    assert.equal(result.code, 3, result.stderr);
    assert.match(result.stderr, /Error: lock slow is held by .+ \(gave up after 500 ms\)\n$/);
    const line = await kvctl('ls', '/_kvctl/locks/slow');
    assert.equal(line.stdout.trim().split('\n').length, 1, 'the waiter left the line');
  });
});

describe('kvctl register: ownership of an instance', function () {
  this.timeout(60_000);
  let cluster: TestCluster;
  const { kvctl, bg } = kvctlAgainst(() => cluster.endpoints);

  before(async () => {
    requireBinary();
    cluster = await TestCluster.start(1);
  });
  afterEach(stopBackgrounds);
  after(async () => cluster?.destroy());

  it('a second register of a live instance is refused with exit 3, and the first keeps it', async () => {
    const first = bg('register', 'web', 'web-1', '10.0.0.1:80', '--ttl', '5');
    await first.waitFor(/^registered /);
    const second = await kvctl('register', 'web', 'web-1', '10.0.0.2:80', '--ttl', '5');
    assert.equal(second.code, 3, second.stderr);
    assert.match(second.stderr, /^Error: \/services\/web\/web-1 is registered by another process/);
    assert.equal((await kvctl('get', '/services/web/web-1')).stdout, '10.0.0.1:80\n');
    assert.equal(await first.stop('SIGTERM'), 128 + 15);
    assert.equal((await kvctl('get', '/services/web/web-1')).code, 2, 'the owner deregistered it');
  });

  it('a register never deletes a registration it did not create', async () => {
    const first = bg('register', 'api', 'api-1', '10.0.0.1:80', '--ttl', '5');
    await first.waitFor(/^registered /);
    // Someone replaces the instance under it (as if it had expired and been taken over).
    assert.equal((await kvctl('del', '/services/api/api-1')).code, 0);
    assert.equal((await kvctl('put', '/services/api/api-1', '10.0.0.9:80')).code, 0);
    assert.equal(await first.stop('SIGTERM'), 128 + 15);
    assert.equal((await kvctl('get', '/services/api/api-1')).stdout, '10.0.0.9:80\n', 'the other registration is still there');
  });

  it('register --stdin: each line read becomes the value (progress reports); it deregisters on SIGTERM', async () => {
    const worker = background(KVCTL_BIN, ['--endpoints', cluster.endpoints, 'register', 'jobs', 'worker-7', 'starting', '--ttl', '5', '--stdin'], undefined, { stdin: true });
    await worker.waitFor(/^registered /);
    const value = async () => (await kvctl('get', '/services/jobs/worker-7')).stdout;
    assert.equal(await value(), 'starting\n');
    worker.child.stdin!.write('resizing 42%\n');
    await waitUntil('the first report', async () => (await value()) === 'resizing 42%\n');
    worker.child.stdin!.end('resizing 99%\n');
    await waitUntil('the second report', async () => (await value()) === 'resizing 99%\n');
    assert.equal(await worker.stop('SIGTERM'), 143);
    assert.equal((await kvctl('get', '/services/jobs/worker-7')).code, 2, 'deregistered');
  });
});
