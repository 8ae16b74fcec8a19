import type { Argv, CommandModule } from 'yargs';
import { UsageError } from '../errors.ts';
import { ExitCode } from '../exit-code.ts';

interface ServeArgs {
  name: string;
  dataDir?: string;
  listenClientUrls: string;
  advertiseClientUrls?: string;
  listenPeerUrls: string;
  initialAdvertisePeerUrls?: string;
  initialCluster?: string;
  initialClusterState: string;
  initialClusterToken: string;
  snapshotCount: number;
  snapshotCatchupEntries: number;
  heartbeatInterval: number;
  electionTimeout: number;
  logLevel: string;
  logFormat: string;
  maxRequestBytes: number;
  maxClientConnections?: number;
  maxTxnOps: number;
  certFile?: string;
  keyFile?: string;
  trustedCaFile?: string;
  clientCertAuth: boolean;
  peerCertFile?: string;
  peerKeyFile?: string;
  peerTrustedCaFile?: string;
  peerClientCertAuth: boolean;
  autoTls: boolean;
  peerAutoTls: boolean;
  peerCertAllowedCn?: string;
  peerCertAllowedHostname?: string;
  proxy: string;
  endpoints?: string;
  proxyRefreshInterval: number;
}

/** `kvd serve`: etcd's flag names; each also from KVD_<FLAG> (e.g. KVD_NAME, KVD_DATA_DIR). */
export const serveCommand: CommandModule<object, ServeArgs> = {
  command: 'serve',
  describe: 'run a member of a kvd cluster',
  builder: (yargs) =>
    (yargs as Argv)
      // As etcd's flag package: a flag given twice takes its last value.
      .parserConfiguration({ 'duplicate-arguments-array': false })
      .option('name', { type: 'string', default: 'default', describe: 'this member\'s name' })
      .option('data-dir', { type: 'string', describe: 'where this member keeps its data (default: ./<name>.kvd)' })
      .option('listen-client-urls', { type: 'string', default: 'http://127.0.0.1:2379', describe: 'URLs to serve clients on' })
      .option('advertise-client-urls', { type: 'string', describe: 'client URLs told to the cluster (default: the listen URLs)' })
      .option('listen-peer-urls', { type: 'string', default: 'http://127.0.0.1:2380', describe: 'URLs to serve the other members on' })
      .option('initial-advertise-peer-urls', { type: 'string', describe: 'peer URLs told to the cluster (default: the listen URLs)' })
      .option('initial-cluster', { type: 'string', describe: 'the first members: name=peer-url,... (default: this member alone)' })
      .option('initial-cluster-state', { type: 'string', choices: ['new', 'existing'], default: 'new', describe: 'new: bootstrap a cluster; existing: join one' })
      .option('initial-cluster-token', { type: 'string', default: 'kvd-cluster', describe: 'a name that keeps separate clusters apart' })
      .option('snapshot-count', { type: 'number', default: 10000, describe: 'applied entries between snapshots' })
      .option('snapshot-catchup-entries', { type: 'number', default: 5000, describe: 'entries kept after a snapshot for slow followers' })
      .option('heartbeat-interval', { type: 'number', default: 100, describe: 'milliseconds between heartbeats' })
      .option('election-timeout', { type: 'number', default: 1000, describe: 'milliseconds without a leader before an election' })
      .option('log-level', { type: 'string', choices: ['debug', 'info', 'warn', 'error'], default: 'info' })
      .option('log-format', { type: 'string', choices: ['text', 'json'], default: 'text' })
      .option('max-request-bytes', { type: 'number', default: 10 * 1024 * 1024, describe: 'the largest request body accepted (etcd\'s v2 form limit)' })
      .option('max-client-connections', { type: 'number', describe: 'client connections open at once; one more is closed at once (default: the open-file limit less 256, kept for storage and peers)' })
      .option('max-txn-ops', { type: 'number', default: 128, describe: 'the most compares and operations one transaction (POST /v2/txn) may hold' })
      .option('cert-file', { type: 'string', describe: 'TLS certificate of the client URLs (https://)' })
      .option('key-file', { type: 'string', describe: 'its private key' })
      .option('trusted-ca-file', { type: 'string', describe: 'the CA whose client certificates are accepted' })
      .option('client-cert-auth', { type: 'boolean', default: false, describe: 'refuse clients without a certificate signed by --trusted-ca-file' })
      .option('peer-cert-file', { type: 'string', describe: 'TLS certificate of the peer URLs, also shown to other members' })
      .option('peer-key-file', { type: 'string', describe: 'its private key' })
      .option('peer-trusted-ca-file', { type: 'string', describe: 'the CA that signs the members\' certificates' })
      .option('peer-client-cert-auth', { type: 'boolean', default: false, describe: 'refuse peers without a certificate signed by --peer-trusted-ca-file' })
      .option('auto-tls', { type: 'boolean', default: false, describe: 'https client URLs without --cert-file: a self-signed certificate, made in <data-dir>.auto-tls/client' })
      .option('peer-auto-tls', { type: 'boolean', default: false, describe: 'https peer URLs without --peer-cert-file: self-signed certificates, encrypted but unauthenticated (peers are not verified)' })
      .option('peer-cert-allowed-cn', { type: 'string', describe: 'accept only peer certificates whose Subject CN is exactly this (needs --peer-client-cert-auth)' })
      .option('peer-cert-allowed-hostname', { type: 'string', describe: 'accept only peer certificates valid for this host name or IP, by their SANs (needs --peer-client-cert-auth)' })
      .option('proxy', { type: 'string', choices: ['off', 'on', 'readonly'], default: 'off', describe: 'run as a proxy that stores nothing and forwards clients to the members (readonly: GET only)' })
      .option('endpoints', { type: 'string', describe: 'for a proxy: client URLs of members to learn the cluster from (or give --initial-cluster)' })
      .option('proxy-refresh-interval', { type: 'number', default: 30000, describe: 'for a proxy: milliseconds between refreshes of the member list' })
      .example('$0 serve', 'one member on 127.0.0.1:2379 (clients) and :2380 (peers), data in ./default.kvd')
      .example(
        '$0 serve --name a --listen-client-urls http://127.0.0.1:2379 --listen-peer-urls http://127.0.0.1:2380 --initial-cluster a=http://127.0.0.1:2380,b=http://127.0.0.1:2480,c=http://127.0.0.1:2580',
        'member a of a three-member cluster',
      )
      .example('$0 serve --proxy on --endpoints http://10.0.0.1:2379,http://10.0.0.2:2379 --listen-client-urls http://127.0.0.1:2379', 'a proxy for the services on this machine')
      .example('$0 serve --listen-client-urls https://10.0.0.1:2379 --cert-file m1.pem --key-file m1-key.pem --client-cert-auth --trusted-ca-file ca.pem', 'TLS with client certificates (docs/security.md)')
      .example(
        '$0 serve --name a --listen-peer-urls https://10.0.0.1:2380 --initial-cluster a=https://10.0.0.1:2380,b=https://10.0.0.2:2380,c=https://10.0.0.3:2380 --peer-cert-file a.pem --peer-key-file a-key.pem --peer-trusted-ca-file peer-ca.pem --peer-client-cert-auth --peer-cert-allowed-cn kvd-member',
        'peers authenticate each other: only certificates from peer-ca.pem with CN kvd-member are members (docs/security.md)',
      ) as unknown as Argv<ServeArgs>,
  handler: async (argv) => {
    const { serve, ServeError } = await import('../../server/serve.ts');
    try {
      // A halted member exits at once: a storage call that never returns must not keep it alive.
      if ((await serve(argv)) === 'halted') process.exit(ExitCode.HALTED);
    } catch (error) {
      if (error instanceof ServeError) throw new UsageError(`kvd serve: ${error.message}`);
      throw error;
    }
  },
};
