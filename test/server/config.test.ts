import assert from 'node:assert/strict';
import type { ServeFlags } from '../../src/server/config.ts';
import { ConfigError, resolveConfig } from '../../src/server/config.ts';

const base: ServeFlags = {
  name: 'm1',
  listenClientUrls: 'http://127.0.0.1:2379',
  listenPeerUrls: 'http://127.0.0.1:2380',
  initialClusterState: 'new',
  initialClusterToken: 't',
  snapshotCount: 10000,
  snapshotCatchupEntries: 5000,
  heartbeatInterval: 100,
  electionTimeout: 1000,
  logLevel: 'info',
  logFormat: 'text',
  maxRequestBytes: 1024,
};

const refused = (flags: Partial<ServeFlags>, message: RegExp) => assert.throws(() => resolveConfig({ ...base, ...flags }), (e: unknown) => e instanceof ConfigError && message.test(e.message));

describe('kvd serve flags: TLS and proxy', () => {
  it('https:// needs a certificate and key, on each side', () => {
    refused({ listenClientUrls: 'https://127.0.0.1:2379' }, /--listen-client-urls: https:\/\/127\.0\.0\.1:2379 is https: give --cert-file and --key-file/);
    refused({ listenPeerUrls: 'https://127.0.0.1:2380', initialCluster: 'm1=https://127.0.0.1:2380' }, /give --peer-cert-file and --peer-key-file/);
  });

  it('the certificate and key go together, and client-cert-auth needs TLS', () => {
    refused({ certFile: 'a.pem' }, /--cert-file and --key-file go together/);
    refused({ clientCertAuth: true }, /--client-cert-auth and --trusted-ca-file need TLS/);
  });

  it('TLS files are passed on per side', () => {
    const config = resolveConfig({ ...base, listenClientUrls: 'https://127.0.0.1:2379', certFile: 'c.pem', keyFile: 'k.pem', trustedCaFile: 'ca.pem', clientCertAuth: true });
    assert.deepEqual(config.clientTls, { certFile: 'c.pem', keyFile: 'k.pem', trustedCaFile: 'ca.pem', clientCertAuth: true });
    assert.equal(config.peerTls, undefined);
  });

  it('a proxy needs members to forward to; its own name need not be in --initial-cluster', () => {
    refused({ proxy: 'on' }, /--proxy: give the members to forward to/);
    refused({ proxy: 'sometimes', endpoints: 'http://127.0.0.1:2379' }, /--proxy: must be off, on or readonly/);
    const config = resolveConfig({ ...base, name: 'p', proxy: 'readonly', initialCluster: 'a=http://10.0.0.1:2380,b=http://10.0.0.2:2380' });
    assert.deepEqual(config.proxy, { mode: 'readonly', clientSeeds: [], peerSeeds: ['http://10.0.0.1:2380', 'http://10.0.0.2:2380'], refreshIntervalMs: 30000 });
  });
});

describe('kvd serve flags: which peers are members', () => {
  const peerTls: Partial<ServeFlags> = {
    listenPeerUrls: 'https://127.0.0.1:2380', initialCluster: 'm1=https://127.0.0.1:2380',
    peerCertFile: 'p.pem', peerKeyFile: 'pk.pem', peerTrustedCaFile: 'ca.pem', peerClientCertAuth: true,
  };

  it('--peer-cert-allowed-cn and --peer-cert-allowed-hostname reach the peer TLS settings', () => {
    assert.equal(resolveConfig({ ...base, ...peerTls, peerCertAllowedCn: 'kvd-member' }).peerTls?.allowedCn, 'kvd-member');
    assert.equal(resolveConfig({ ...base, ...peerTls, peerCertAllowedHostname: 'm1.kvd.internal' }).peerTls?.allowedHostname, 'm1.kvd.internal');
    assert.equal(resolveConfig({ ...base, ...peerTls }).peerTls?.allowedCn, undefined);
  });

  it('they are mutually exclusive, as in etcd', () => {
    refused({ ...peerTls, peerCertAllowedCn: 'a', peerCertAllowedHostname: 'b' }, /--peer-cert-allowed-cn and --peer-cert-allowed-hostname are mutually exclusive \(cn="a", hostname="b"\)/);
  });

  it('they are refused where no peer certificate is checked, rather than ignored', () => {
    refused({ peerCertAllowedCn: 'kvd-member' }, /--peer-cert-allowed-cn needs peer TLS/);
    refused({ ...peerTls, peerClientCertAuth: false, peerCertAllowedHostname: 'h' }, /--peer-cert-allowed-hostname needs --peer-client-cert-auth/);
  });

  it('warns when clients need certificates but the peer port is plain HTTP', () => {
    const clientTls: Partial<ServeFlags> = { listenClientUrls: 'https://127.0.0.1:2379', certFile: 'c.pem', keyFile: 'k.pem', trustedCaFile: 'ca.pem', clientCertAuth: true };
    const [warning, ...more] = resolveConfig({ ...base, ...clientTls }).warnings;
    assert.match(warning ?? '', /--client-cert-auth.*peer URLs http:\/\/127\.0\.0\.1:2380 are plain HTTP/);
    assert.deepEqual(more, []);
    assert.deepEqual(resolveConfig({ ...base, ...clientTls, ...peerTls }).warnings, []);
    assert.deepEqual(resolveConfig({ ...base, ...clientTls, clientCertAuth: false }).warnings, []);
    assert.deepEqual(resolveConfig({ ...base, ...clientTls, name: 'p', proxy: 'on', endpoints: 'https://10.0.0.1:2379' }).warnings, []);
  });
});

describe('kvd serve flags: transactions', () => {
  it('--max-txn-ops defaults to etcd v3\'s 128 and must be a positive integer', () => {
    assert.equal(resolveConfig(base).maxTxnOps, 128);
    assert.equal(resolveConfig({ ...base, maxTxnOps: 16 }).maxTxnOps, 16);
    refused({ maxTxnOps: 0 }, /--max-txn-ops/);
  });
});
