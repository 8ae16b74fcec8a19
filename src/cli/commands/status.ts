import type { Argv, CommandModule } from 'yargs';
import { parseDuration } from '../../api/duration.ts';
import { parseEndpoints } from '../../api/endpoints.ts';
import type { ClusterSnapshot } from '../../client/cluster-status.ts';
import { ClusterMonitor } from '../../client/cluster-status.ts';
import type { SnapshotSource } from '../../tui/use-cluster-status.ts';
import { formatSnapshot, health } from '../../tui/status-table.ts';
import { stdoutColor } from '../color.ts';
import { ExitCode } from '../exit-code.ts';
import type { GlobalArgs } from '../global-options.ts';
import { transportFor } from '../global-options.ts';
import type { Io } from '../io.ts';
import { processIo } from '../io.ts';
import type { OutputFormat } from '../printers.ts';

/** One snapshot for scripts: a table (or JSON); exit 4 when a member is not up. */
export async function runStatusOnce(source: SnapshotSource, format: OutputFormat, io: Io, width: number): Promise<number> {
  const snapshot: ClusterSnapshot = await source.poll();
  if (format === 'json') io.out(JSON.stringify(snapshot));
  else for (const line of formatSnapshot(snapshot, width)) io.out(line);
  return snapshot.rows.every((r) => health(r) === 'up') && snapshot.leader !== undefined ? ExitCode.OK : ExitCode.UNAVAILABLE;
}

/** The live view until q; ink and React are loaded only here. */
async function runStatusTui(source: SnapshotSource, intervalMs: number): Promise<void> {
  const [{ render }, { createElement }, { StatusApp }] = await Promise.all([import('ink'), import('react'), import('../../tui/StatusApp.ts')]);
  const app = render(createElement(StatusApp, { source, intervalMs, paint: stdoutColor }));
  await app.waitUntilExit();
}

interface StatusArgs extends GlobalArgs {
  interval: string;
}

export const statusCommand: CommandModule<GlobalArgs, StatusArgs> = {
  command: 'status',
  describe: 'a live view of the cluster\'s members (one snapshot when not on a terminal, or with -w)',
  builder: (yargs) =>
    (yargs as Argv<GlobalArgs>)
      .option('interval', { type: 'string', default: '1s', describe: 'how often the live view asks the members' })
      .example('$0 status', 'live: q quit, ↑/↓ select a member, r refresh, ? explain the columns')
      .example('$0 status -w json', 'one snapshot for scripts (exit 4 unless every member is up and there is a leader)') as unknown as Argv<StatusArgs>,
  handler: async (argv) => {
    const transport = transportFor(argv, processIo);
    const timeoutMs = parseDuration(argv.timeout);
    const intervalMs = parseDuration(argv.interval);
    const monitor = new ClusterMonitor(transport, parseEndpoints(argv.endpoints), Math.min(timeoutMs, Math.max(200, intervalMs)));
    try {
      if (argv.writeOut !== undefined || !process.stdout.isTTY || !process.stdin.isTTY) {
        process.exitCode = await runStatusOnce(monitor, argv.writeOut ?? 'table', processIo, process.stdout.columns || 200);
      } else {
        await runStatusTui(monitor, intervalMs);
      }
    } finally {
      monitor.close();
      transport.close();
    }
  },
};
