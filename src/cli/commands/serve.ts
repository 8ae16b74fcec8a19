import type { Argv, CommandModule } from 'yargs';
import { UsageError } from '../errors.ts';

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
}

/** `kvd serve`: etcd's flag names; each also from KVD_<FLAG> (e.g. KVD_NAME, KVD_DATA_DIR). */
export const serveCommand: CommandModule<object, ServeArgs> = {
  command: 'serve',
  describe: 'run a member of a kvd cluster',
  builder: (yargs) =>
    (yargs as Argv)
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
      .option('max-request-bytes', { type: 'number', default: 1.5 * 1024 * 1024, describe: 'the largest request body accepted' })
      .example('$0 serve', 'one member on 127.0.0.1:2379 (clients) and :2380 (peers), data in ./default.kvd')
      .example(
        '$0 serve --name a --listen-client-urls http://127.0.0.1:2379 --listen-peer-urls http://127.0.0.1:2380 --initial-cluster a=http://127.0.0.1:2380,b=http://127.0.0.1:2480,c=http://127.0.0.1:2580',
        'member a of a three-member cluster',
      ) as unknown as Argv<ServeArgs>,
  handler: async (argv) => {
    const { serve, ServeError } = await import('../../server/serve.ts');
    try {
      process.exitCode = await serve(argv);
    } catch (error) {
      if (error instanceof ServeError) throw new UsageError(`kvd serve: ${error.message}`);
      throw error;
    }
  },
};
