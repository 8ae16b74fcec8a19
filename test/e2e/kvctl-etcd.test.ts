import assert from 'node:assert/strict';
import net from 'node:net';
import type { RunResult } from '../helpers/binary.ts';
import { KVCTL_BIN, requireBinary, run } from '../helpers/binary.ts';
import type { EtcdProcess } from '../helpers/etcd.ts';
import { startEtcd } from '../helpers/etcd.ts';
import { freePort } from '../helpers/ports.ts';
import { ExitCode } from '../../src/cli/exit-code.ts';

describe('bin/kvctl against etcd 3.4 (v2 API)', function () {
  let etcd: EtcdProcess;
  let kvctl: (...args: string[]) => Promise<RunResult>;

  before(async function () {
    requireBinary();
    etcd = await startEtcd();
    kvctl = (...args) => run(KVCTL_BIN, ['--endpoints', etcd.endpoint, ...args]);
  });
  after(async () => etcd?.stop());

  it('put then get prints the value', async () => {
    const put = await kvctl('put', '/e2e/a', 'hello world');
    assert.deepEqual(put, { code: ExitCode.OK, stdout: 'hello world\n', stderr: '' });
    const get = await kvctl('get', 'e2e/a');
    assert.deepEqual(get, { code: ExitCode.OK, stdout: 'hello world\n', stderr: '' });
  });

  it('put reads the value from standard input when VALUE is left out', async () => {
    const put = await run(KVCTL_BIN, ['--endpoints', etcd.endpoint, 'put', '/e2e/stdin'], { input: 'line1\nline2\n' });
    assert.equal(put.code, ExitCode.OK);
    const get = await kvctl('get', '/e2e/stdin', '-w', 'json');
    assert.equal(JSON.parse(get.stdout).node.value, 'line1\nline2\n');
  });

  it('get of a missing key exits 2 with etcd\'s error on stderr in one line', async () => {
    const get = await kvctl('get', '/e2e/missing/deeper');
    assert.equal(get.code, ExitCode.KEY_NOT_FOUND);
    assert.equal(get.stdout, '');
    assert.match(get.stderr, /^Error: 100: Key not found \(\/e2e\/missing\) \[\d+\]\n$/);
  });

  it('compare-and-swap: a wrong --prev-value exits 3, the right one writes', async () => {
    await kvctl('put', '/e2e/cas', 'v1');
    const wrong = await kvctl('put', '/e2e/cas', 'v2', '--prev-value', 'nope');
    assert.equal(wrong.code, ExitCode.PRECONDITION_FAILED);
    assert.match(wrong.stderr, /^Error: 101: Compare failed \(\[nope != v1\]\) \[\d+\]\n$/);
    const right = await kvctl('put', '/e2e/cas', 'v2', '--prev-value', 'v1', '-w', 'json');
    assert.equal(right.code, ExitCode.OK);
    const event = JSON.parse(right.stdout);
    assert.equal(event.action, 'compareAndSwap');
    assert.equal(event.prevNode.value, 'v1');
  });

  it('--prev-index compares the modified index', async () => {
    const first = JSON.parse((await kvctl('put', '/e2e/pi', 'a', '-w', 'json')).stdout);
    const index = String(first.node.modifiedIndex);
    assert.equal((await kvctl('put', '/e2e/pi', 'b', '--prev-index', index)).code, ExitCode.OK);
    const stale = await kvctl('put', '/e2e/pi', 'c', '--prev-index', index);
    assert.equal(stale.code, ExitCode.PRECONDITION_FAILED);
    assert.match(stale.stderr, new RegExp(`\\[${index} != \\d+\\]`));
  });

  it('--prev-exist false refuses an existing key (3), --prev-exist true a missing one (2)', async () => {
    await kvctl('put', '/e2e/pe', 'x');
    const create = await kvctl('put', '/e2e/pe', 'y', '--prev-exist', 'false');
    assert.equal(create.code, ExitCode.PRECONDITION_FAILED);
    assert.match(create.stderr, /105: Key already exists/);
    const update = await kvctl('put', '/e2e/pe-missing', 'y', '--prev-exist', 'true');
    assert.equal(update.code, ExitCode.KEY_NOT_FOUND);
    assert.equal((await kvctl('put', '/e2e/pe', 'z', '--prev-exist', 'true')).code, ExitCode.OK);
  });

  it('--ttl gives the key a time to live', async () => {
    const put = await kvctl('put', '/e2e/ttl', 'x', '--ttl', '100', '-w', 'json');
    const node = JSON.parse(put.stdout).node;
    assert.ok(node.ttl > 90 && node.ttl <= 100, `ttl ${node.ttl}`);
    assert.match(node.expiration, /^\d{4}-\d\d-\d\dT/);
  });

  it('bad numbers are refused before anything is sent (exit 1)', async () => {
    const ttl = await kvctl('put', '/e2e/bad', 'x', '--ttl', '-5');
    assert.equal(ttl.code, ExitCode.USAGE);
    assert.match(ttl.stderr, /--ttl must be a whole number >= 0, not "-5"/);
    assert.equal((await kvctl('get', '/e2e/bad')).code, ExitCode.KEY_NOT_FOUND);
    const unknown = await kvctl('frobnicate');
    assert.equal(unknown.code, ExitCode.USAGE);
  });

  it('mkdir, ls and get -r show a tree, sorted', async () => {
    assert.equal((await kvctl('mkdir', '/e2e/tree')).code, ExitCode.OK);
    const again = await kvctl('mkdir', '/e2e/tree');
    assert.equal(again.code, ExitCode.PRECONDITION_FAILED);
    await kvctl('put', '/e2e/tree/b', '2');
    await kvctl('put', '/e2e/tree/a', '1');
    await kvctl('put', '/e2e/tree/sub/c', '3');
    await kvctl('put', '/e2e/tree/_hidden', 'h');
    const ls = await kvctl('ls', '/e2e/tree');
    assert.equal(ls.stdout, '/e2e/tree/a\n/e2e/tree/b\n/e2e/tree/sub\n');
    const lsRecursive = await kvctl('ls', '-r', '-p', '/e2e/tree');
    assert.equal(lsRecursive.stdout, '/e2e/tree/a\n/e2e/tree/b\n/e2e/tree/sub/\n/e2e/tree/sub/c\n');
    const get = await kvctl('get', '-r', '--sorted', '/e2e/tree');
    assert.equal(get.stdout, '/e2e/tree/a=1\n/e2e/tree/b=2\n/e2e/tree/sub/\n/e2e/tree/sub/c=3\n');
    const serializable = await kvctl('get', '--consistency', 's', '/e2e/tree/a');
    assert.equal(serializable.stdout, '1\n');
  });

  it('del removes keys; directories need --dir (empty) or -r', async () => {
    await kvctl('put', '/e2e/del/x/y', '1');
    const notFile = await kvctl('del', '/e2e/del/x');
    assert.equal(notFile.code, ExitCode.REJECTED);
    assert.match(notFile.stderr, /102: Not a file/);
    const notEmpty = await kvctl('del', '--dir', '/e2e/del/x');
    assert.equal(notEmpty.code, ExitCode.REJECTED);
    assert.match(notEmpty.stderr, /108: Directory not empty/);
    const cad = await kvctl('del', '/e2e/del/x/y', '--prev-value', '2');
    assert.equal(cad.code, ExitCode.PRECONDITION_FAILED);
    assert.equal((await kvctl('del', '/e2e/del/x/y', '--prev-value', '1')).code, ExitCode.OK);
    assert.equal((await kvctl('del', '-r', '/e2e/del')).code, ExitCode.OK);
    assert.equal((await kvctl('get', '/e2e/del')).code, ExitCode.KEY_NOT_FOUND);
  });

  it('fails over to the next endpoint when one does not answer; KVCTL_ENDPOINTS works', async () => {
    const dead = `http://127.0.0.1:${await freePort()}`;
    await kvctl('put', '/e2e/fo', 'ok');
    const get = await run(KVCTL_BIN, ['get', '/e2e/fo', '--debug'], {
      env: { KVCTL_ENDPOINTS: `${dead},${etcd.endpoint}` },
    });
    assert.equal(get.code, ExitCode.OK);
    assert.equal(get.stdout, 'ok\n');
    assert.match(get.stderr, /debug: GET .* failed: ECONNREFUSED/);
    assert.match(get.stderr, /debug: GET .* -> 200/);
  });

  it('exits 4 when no endpoint answers, also when one accepts but never replies', async () => {
    const hung = net.createServer(() => undefined).listen(0, '127.0.0.1');
    await new Promise((resolve) => hung.once('listening', resolve));
    try {
      const address = hung.address() as net.AddressInfo;
      const dead = `http://127.0.0.1:${await freePort()}`;
      const result = await run(KVCTL_BIN, ['--endpoints', `${dead},http://127.0.0.1:${address.port}`, '--timeout', '300ms', 'get', '/a']);
      assert.equal(result.code, ExitCode.UNAVAILABLE);
      assert.match(result.stderr, /ECONNREFUSED.*timed out after 300 ms/);
    } finally {
      hung.close();
    }
  });
});
