import type { Argv, CommandModule } from 'yargs';
import { parseDuration } from '../../api/duration.ts';
import { parseEndpoints } from '../../api/endpoints.ts';
import type { MemberStatus } from '../../client/cluster-status.ts';
import { probeEndpoint } from '../../client/cluster-status.ts';
import type { HttpTransport } from '../../client/http-transport.ts';
import { MembersClient } from '../../client/members-client.ts';
import { ExitCode } from '../exit-code.ts';
import type { GlobalArgs } from '../global-options.ts';
import { formatOf, transportFor } from '../global-options.ts';
import { ownOptionsFirst } from '../help-layout.ts';
import type { Io } from '../io.ts';
import { processIo } from '../io.ts';
import type { OutputFormat } from '../printers.ts';
import { OUTPUT_FORMATS, formatTable } from '../printers.ts';

export interface EndpointDeps {
  readonly io: Io;
  readonly probe: (endpoint: string) => Promise<MemberStatus>;
}

const ms = (value: number | undefined) => (value === undefined ? '-' : `${value.toFixed(1)}ms`);
const text = (value: string | number | boolean | undefined) => (value === undefined ? '-' : String(value));

/** Prints each endpoint's health; fails with UNAVAILABLE when one is not healthy. */
export async function runEndpointHealth(endpoints: readonly string[], format: OutputFormat, deps: EndpointDeps): Promise<number> {
  const statuses = await Promise.all(endpoints.map((e) => deps.probe(e)));
  if (format === 'json') deps.io.out(JSON.stringify(statuses.map((s) => ({ endpoint: s.endpoint, health: s.healthy, took: s.latencyMs, ...(s.error ? { error: s.error } : {}) }))));
  else if (format === 'table') for (const line of formatTable([['ENDPOINT', 'HEALTH', 'TOOK', 'ERROR'], ...statuses.map((s) => [s.endpoint, String(s.healthy), ms(s.latencyMs), s.error ?? ''])])) deps.io.out(line);
  else for (const s of statuses) deps.io.out(s.healthy ? `${s.endpoint} is healthy: took ${ms(s.latencyMs)}` : `${s.endpoint} is unhealthy: ${s.error}`);
  return statuses.every((s) => s.healthy) ? ExitCode.OK : ExitCode.UNAVAILABLE;
}

/** Prints each endpoint's member id, leadership, raft term and index, version and latency. */
export async function runEndpointStatus(endpoints: readonly string[], format: OutputFormat, deps: EndpointDeps): Promise<number> {
  const statuses = await Promise.all(endpoints.map((e) => deps.probe(e)));
  if (format === 'json') deps.io.out(JSON.stringify(statuses));
  else if (format === 'simple') {
    for (const s of statuses) deps.io.out(s.error !== undefined ? `${s.endpoint}, down: ${s.error}` : [s.endpoint, text(s.id), text(s.serverVersion), `leader=${text(s.isLeader)}`, `term=${text(s.raftTerm)}`, `index=${text(s.raftIndex)}`, ms(s.latencyMs)].join(', '));
  } else {
    const rows = [['ENDPOINT', 'ID', 'NAME', 'VERSION', 'IS LEADER', 'RAFT TERM', 'RAFT INDEX', 'APPLIED', 'LATENCY', 'ERROR']];
    for (const s of statuses) rows.push([s.endpoint, text(s.id), text(s.name), text(s.serverVersion), text(s.isLeader), text(s.raftTerm), text(s.raftIndex), text(s.appliedIndex), ms(s.latencyMs), s.error ?? '']);
    for (const line of formatTable(rows)) deps.io.out(line);
  }
  return statuses.every((s) => s.error === undefined) ? ExitCode.OK : ExitCode.UNAVAILABLE;
}

interface EndpointArgs extends GlobalArgs {
  cluster: boolean;
}

/** The endpoints to look at: those given, or with --cluster every member's client URL. */
async function endpointsOf(argv: EndpointArgs, transport: HttpTransport): Promise<string[]> {
  if (!argv.cluster) return parseEndpoints(argv.endpoints);
  const members = await new MembersClient(transport, parseDuration(argv.timeout)).list();
  return [...new Set(members.flatMap((m) => m.clientURLs))];
}

async function probeOnce(transport: HttpTransport, endpoint: string, timeoutMs: number): Promise<MemberStatus> {
  const direct = transport.single(endpoint, timeoutMs);
  try {
    return await probeEndpoint(direct, endpoint);
  } finally {
    direct.close();
  }
}

function handle(run: typeof runEndpointHealth, fallback: OutputFormat) {
  return async (argv: unknown): Promise<void> => {
    const a = argv as EndpointArgs;
    const timeoutMs = parseDuration(a.timeout);
    const transport = transportFor(a, processIo);
    try {
      process.exitCode = await run(await endpointsOf(a, transport), formatOf(a, fallback, OUTPUT_FORMATS), { io: processIo, probe: (e) => probeOnce(transport, e, timeoutMs) });
    } finally {
      transport.close();
    }
  };
}

export const endpointCommand: CommandModule<GlobalArgs, EndpointArgs> = {
  command: 'endpoint <command>',
  describe: 'check endpoints: health, status',
  builder: (yargs) =>
    (yargs as Argv<GlobalArgs>)
      .option('cluster', { type: 'boolean', default: false, describe: 'check every member\'s client URL (from the member list), not just --endpoints' })
      .command('health', 'whether each endpoint is healthy, and how long it took to say (exit 4 if one is not)', (y: Argv) => ownOptionsFirst(y).example('$0 endpoint health --cluster', 'every member\'s health (exit 4 if one is not healthy)'), handle(runEndpointHealth, 'simple'))
      .command('status', 'each endpoint\'s member id, leader or not, raft term and index, version, latency', (y: Argv) => ownOptionsFirst(y).example('$0 endpoint status --cluster -w json', 'every member\'s status, for scripts'), handle(runEndpointStatus, 'table'))
      .demandCommand(1, 'name an endpoint command: health, status')
      .example('$0 endpoint health --cluster', 'every member\'s health')
      .example('$0 endpoint status -w json', 'for scripts') as unknown as Argv<EndpointArgs>,
  handler: () => undefined,
};
