import type { Argv, CommandModule } from 'yargs';
import { parseDuration } from '../../api/duration.ts';
import { parseEndpoints } from '../../api/endpoints.ts';
import type { VerifiedSnapshot } from '../../api/snapshot-file.ts';
import { SnapshotFileError, verifySnapshotFile } from '../../api/snapshot-file.ts';
import { downloadSnapshot } from '../../client/snapshot-download.ts';
import { authorizationFor } from '../credentials.ts';
import { BadFile } from '../errors.ts';
import type { GlobalArgs } from '../global-options.ts';
import { clientTlsFor, formatOf } from '../global-options.ts';
import type { Io } from '../io.ts';
import { ownOptionsFirst } from '../help-layout.ts';
import { processIo } from '../io.ts';
import type { OutputFormat } from '../printers.ts';
import { formatTable } from '../printers.ts';

/** What `snapshot status` shows of a verified file. */
function statusOf(snapshot: VerifiedSnapshot): Record<string, string | number | boolean> {
  const { header } = snapshot;
  return { index: header.index, keys: header.keys, size: snapshot.size, created: header.created, raftIndex: header.raftIndex, term: header.term, cluster: header.clusterId, member: header.member, checksum: 'ok' };
}

export function printSnapshotStatus(snapshot: VerifiedSnapshot, format: OutputFormat, io: Io): void {
  const status = statusOf(snapshot);
  if (format === 'json') io.out(JSON.stringify(status));
  else if (format === 'table') for (const line of formatTable([Object.keys(status).map((k) => k.toUpperCase()), Object.values(status).map(String)])) io.out(line);
  else io.out(Object.entries(status).map(([k, v]) => `${k}=${v}`).join(' '));
}

export async function runSnapshotStatus(file: string, format: OutputFormat, io: Io): Promise<void> {
  printSnapshotStatus(await asBadFile(verifySnapshotFile(file)), format, io);
}

async function runSnapshotSave(file: string, argv: GlobalArgs, io: Io): Promise<void> {
  const tls = clientTlsFor(argv);
  const authorization = authorizationFor(argv.user);
  const saved = await asBadFile(downloadSnapshot(file, { endpoints: parseEndpoints(argv.endpoints), idleTimeoutMs: parseDuration(argv.timeout), ...(tls ? { tls } : {}), ...(authorization !== undefined ? { authorization } : {}) }));
  if (formatOf(argv) === 'json') io.out(JSON.stringify({ file, endpoint: saved.endpoint, ...statusOf(saved) }));
  else io.out(`Snapshot saved at ${file} (index ${saved.header.index}, ${saved.header.keys} keys, ${saved.size} bytes, from ${saved.endpoint})`);
}

interface RestoreArgs {
  readonly file: string;
  readonly name: string;
  readonly initialCluster?: string;
  readonly initialAdvertisePeerUrls?: string;
  readonly initialClusterToken: string;
  readonly dataDir?: string;
}

/** The restore writes a data dir with the server's storage: loaded only for this command. */
async function runSnapshotRestore(args: RestoreArgs, io: Io): Promise<void> {
  const { restoreSnapshot, RestoreError } = await import('../../server/snapshot-restore.ts');
  const dataDir = args.dataDir ?? `${args.name}.kvd`;
  // etcdctl's default: a one-member cluster of this member at its advertised peer URLs.
  const peerUrls = (args.initialAdvertisePeerUrls ?? 'http://localhost:2380').split(',');
  const initialCluster = args.initialCluster ?? peerUrls.map((url) => `${args.name}=${url}`).join(',');
  const options = { file: args.file, name: args.name, initialCluster, initialClusterToken: args.initialClusterToken, dataDir };
  try {
    const done = await restoreSnapshot(args.initialAdvertisePeerUrls === undefined ? options : { ...options, initialAdvertisePeerUrls: args.initialAdvertisePeerUrls });
    io.out(`Restored ${done.keys} keys at index ${done.index} into ${dataDir}: member ${done.memberId} of new cluster ${done.clusterId}`);
  } catch (error) {
    throw error instanceof RestoreError ? new BadFile(error.message) : badFileFor(error);
  }
}

/** A damaged or unreadable file (or a data dir in the way) is the user's to fix: one line, exit 1. */
async function asBadFile<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (error) {
    throw badFileFor(error);
  }
}

function badFileFor(error: unknown): unknown {
  return error instanceof SnapshotFileError ? new BadFile(error.message) : error;
}

interface SnapshotArgs extends GlobalArgs {
  file?: string;
  name?: string;
  initialCluster?: string;
  initialAdvertisePeerUrls?: string;
  initialClusterToken?: string;
  dataDir?: string;
}

/** yargs' subcommand typings drop the global options; every handler gets them at run time. */
const args = (argv: unknown) => argv as SnapshotArgs;
const fileArg = (y: Argv) => y.positional('file', { type: 'string', demandOption: true, describe: 'the snapshot file' });

export const snapshotCommand: CommandModule<GlobalArgs, SnapshotArgs> = {
  command: 'snapshot <command>',
  describe: 'back up a cluster to a file, check a file, and restore a new cluster from it',
  builder: (yargs) =>
    (yargs as Argv<GlobalArgs>)
      .command('save <file>', 'save a point-in-time copy of the whole store from one member (the first endpoint that answers)', (y: Argv) => fileArg(ownOptionsFirst(y)).example('$0 snapshot save backup.kvdsnap', 'back up the cluster'), (argv) => runSnapshotSave(args(argv).file!, args(argv), processIo))
      .command('status <file>', 'check a snapshot file (its checksum) and print its index, keys, size and creation time', (y: Argv) => fileArg(ownOptionsFirst(y)).example('$0 snapshot status backup.kvdsnap -w json', 'check a backup, as JSON'), (argv) => runSnapshotStatus(args(argv).file!, formatOf(args(argv)), processIo))
      .command(
        'restore <file>',
        'make the data dir of one member of a NEW cluster from a snapshot file (once per member)',
        (y: Argv) =>
          fileArg(ownOptionsFirst(y))
            .option('name', { type: 'string', default: 'default', describe: 'this member\'s name (as kvd serve --name)' })
            .option('initial-cluster', { type: 'string', describe: 'the new cluster: name=peer-url,... (as kvd serve)' })
            .option('initial-advertise-peer-urls', { type: 'string', describe: 'this member\'s peer URLs (default: its URLs in --initial-cluster)' })
            .option('initial-cluster-token', { type: 'string', default: 'kvd-cluster', describe: 'the new cluster\'s token (as kvd serve)' })
            .option('data-dir', { type: 'string', describe: 'the data dir to make; must not exist or be empty (default: NAME.kvd)' })
            .example('$0 snapshot restore backup.kvdsnap --name m1 --initial-cluster m1=http://10.0.0.1:2380,m2=http://10.0.0.2:2380 --data-dir /var/lib/kvd/m1', 'make m1\'s data dir of a new two-member cluster'),
        (argv) => {
          const a = args(argv);
          const restore: RestoreArgs = { file: a.file!, name: a.name!, initialClusterToken: a.initialClusterToken!, ...(a.initialCluster !== undefined ? { initialCluster: a.initialCluster } : {}), ...(a.initialAdvertisePeerUrls !== undefined ? { initialAdvertisePeerUrls: a.initialAdvertisePeerUrls } : {}), ...(a.dataDir !== undefined ? { dataDir: a.dataDir } : {}) };
          return runSnapshotRestore(restore, processIo);
        },
      )
      .demandCommand(1, 'name a snapshot command: save, status, restore')
      .example('$0 snapshot save backup.kvdsnap', 'back up the cluster')
      .example('$0 snapshot status backup.kvdsnap -w table', 'check a backup')
      .example('$0 snapshot restore backup.kvdsnap --name m1 --initial-cluster m1=http://10.0.0.1:2380,m2=http://10.0.0.2:2380,m3=http://10.0.0.3:2380 --data-dir /var/lib/kvd/m1', 'make m1\'s data dir of a new cluster') as unknown as Argv<SnapshotArgs>,
  handler: () => undefined,
};
