import assert from 'node:assert/strict';
import { MalformedExportError, flattenNode, parseExportDocument } from '../../src/client/export-format.ts';
import { rebaseKey } from '../../src/client/import.ts';

const header = { format: 'kvd-export', version: 1, key: '/app', index: 7, exportedAt: '2026-01-01T00:00:00Z', hidden: [] };

function refused(nodes: unknown, change: Record<string, unknown> = {}): string {
  try {
    parseExportDocument(JSON.stringify({ ...header, nodes, ...change }));
  } catch (error) {
    assert.ok(error instanceof MalformedExportError);
    return error.message;
  }
  assert.fail('the document was accepted');
}

describe('the export document', () => {
  it('flattens a GET reply parents first, leaving out the root and keeping TTLs as expiration times', () => {
    const nodes = flattenNode({ dir: true, nodes: [{ key: '/a', dir: true, expiration: '2026-01-01T00:00:00Z', ttl: 5, nodes: [{ key: '/a/b', value: '1' }] }, { key: '/c', value: '' }] });
    assert.deepEqual(nodes, [{ key: '/a', dir: true, expiration: '2026-01-01T00:00:00Z', ttl: 5 }, { key: '/a/b', value: '1' }, { key: '/c', value: '' }]);
  });

  it('reads a well-formed document', () => {
    const doc = parseExportDocument(JSON.stringify({ ...header, nodes: [{ key: '/app', dir: true }, { key: '/app/x', value: 'v', expiration: '2026-01-01T00:00:05Z', ttl: 5 }] }));
    assert.equal(doc.index, 7);
    assert.deepEqual(doc.nodes[1], { key: '/app/x', value: 'v', expiration: '2026-01-01T00:00:05Z', ttl: 5 });
  });

  it('refuses a document that is not one, naming the first fault', () => {
    assert.match(refused([], { format: 'etcd' }), /not a kvctl export/);
    assert.match(refused([], { version: 2 }), /this kvctl reads version 1/);
    assert.match(refused([], { index: -1 }), /"index" must be a whole number/);
    assert.match(refused({}), /"nodes" must be an array/);
    assert.match(refused([{ key: 'app/x', value: 'v' }]), /nodes\[0\]\.key must be a key/);
    assert.match(refused([{ key: '/app//x', value: 'v' }]), /nodes\[0\]\.key must be a key/);
    assert.match(refused([{ key: '/other', value: 'v' }]), /not below the exported key \/app/);
    assert.match(refused([{ key: '/app/x' }]), /either a "value" \(a file\) or "dir": true/);
    assert.match(refused([{ key: '/app/x', value: 1 }]), /"value" must be a string/);
    assert.match(refused([{ key: '/app/x', value: 'v', expiration: 'tomorrow' }]), /"expiration" must be an RFC 3339 time/);
    assert.match(refused([{ key: '/app/x', value: 'v' }, { key: '/app/x', value: 'w' }]), /\/app\/x appears twice/);
    assert.match(refused([{ key: '/app/x', value: 'v' }, { key: '/app/x/y', value: 'w' }]), /\/app\/x\/y is below \/app\/x, which is a file/);
    assert.match(refused([], { hidden: [{ key: '/_x' }] }), /hidden\[0\]\.index/);
  });

  it('moves keys from the exported key to the prefix', () => {
    assert.equal(rebaseKey('/app/a', '/app', '/new'), '/new/a');
    assert.equal(rebaseKey('/app', '/app', '/new'), '/new');
    assert.equal(rebaseKey('/a/b', '/', '/new'), '/new/a/b');
    assert.equal(rebaseKey('/app/a', '/app', '/'), '/a');
    assert.equal(rebaseKey('/app', '/app', '/'), '/');
    assert.equal(rebaseKey('/app/a', '/app', '/app'), '/app/a');
  });
});
