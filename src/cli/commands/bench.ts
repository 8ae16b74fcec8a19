import type { Argv, CommandModule } from 'yargs';
import { parseDuration } from '../../api/duration.ts';
import { parseEndpoints } from '../../api/endpoints.ts';
import type { BenchResult, WatchBenchResult } from '../../client/bench.ts';
import { keyFor, runLoad, runWatchLoad, valueBody } from '../../client/bench.ts';
import { UsageError } from '../errors.ts';
import type { GlobalArgs } from '../global-options.ts';
import { authorizationFor } from '../credentials.ts';
import { clientTlsFor, formatOf } from '../global-options.ts';
import { ownOptionsFirst } from '../help-layout.ts';
import type { Io } from '../io.ts';
import { processIo } from '../io.ts';
import type { OutputFormat } from '../printers.ts';
import { CONSISTENCY } from './get.ts';
import type { Consistency } from './get.ts';

/** One line per figure, for people; `-w json` gives the whole result for scripts. */
export function formatBenchResult(result: BenchResult | WatchBenchResult): string[] {
  const errors = Object.entries(result.errors).map(([kind, n]) => `${kind}: ${n}`).join(', ') || 'none';
  if ('deliveryLatencyMs' in result) {
    const l = result.deliveryLatencyMs;
    return [
      `watch (${result.mode}): ${result.watchers} watchers, ${result.events} events, ${result.deliveries} deliveries`,
      `delivery latency ms: p50 ${l.p50}  p90 ${l.p90}  p99 ${l.p99}  p99.9 ${l.p999}  max ${l.max}`,
      `missed ${result.missed}, duplicated ${result.duplicated}; errors: ${errors}`,
      `generator CPU: ${Math.round(result.generatorCpuShare * 100)}% of a core`,
    ];
  }
  const l = result.latencyMs;
  return [
    `${result.workload}: ${result.ops} ops in ${result.seconds}s with ${result.clients} clients: ${result.opsPerSecond} ops/s`,
    `latency ms: p50 ${l.p50}  p90 ${l.p90}  p99 ${l.p99}  p99.9 ${l.p999}  max ${l.max}`,
    `errors: ${errors}`,
    `generator CPU: ${result.generatorCpuMicrosPerOp} µs per request, ${Math.round(result.generatorCpuShare * 100)}% of a core`,
  ];
}

function progressLine(): ((text: string) => void) | undefined {
  if (!process.stderr.isTTY) return undefined;
  return (text) => process.stderr.write(`\r\u001b[K${text}`);
}

function print(result: BenchResult | WatchBenchResult, format: OutputFormat, io: Io): void {
  if (process.stderr.isTTY) process.stderr.write('\r\u001b[K');
  if (format === 'json') io.out(JSON.stringify(result));
  else for (const line of formatBenchResult(result)) io.out(line);
}

interface BenchArgs extends GlobalArgs {
  clients: number;
  total?: number;
  duration?: string;
  keySpace: number;
  valueSize: number;
  consistency: Consistency;
  sequential: boolean;
  prefix: string;
  watchers: number;
  mode: 'stream' | 'poll';
  events: number;
  rate: number;
}

const args = (argv: unknown) => argv as BenchArgs;

function positive(name: string, value: number | undefined): void {
  if (value !== undefined && !(Number.isInteger(value) && value >= 1)) throw new UsageError(`--${name} must be a whole number, at least 1, not ${value}`);
}

function loadOptions(a: BenchArgs) {
  for (const [name, value] of [['clients', a.clients], ['total', a.total], ['key-space', a.keySpace]] as const) positive(name, value);
  if (!(a.valueSize >= 0)) throw new UsageError(`--value-size must be 0 or more, not ${a.valueSize}`);
  const durationMs = a.duration !== undefined ? parseDuration(a.duration) : a.total === undefined ? 10_000 : undefined;
  const line = progressLine();
  const tls = clientTlsFor(a);
  const authorization = authorizationFor(a.user);
  return {
    endpoints: parseEndpoints(a.endpoints),
    clients: a.clients,
    ...(a.total !== undefined ? { total: a.total } : {}),
    ...(durationMs !== undefined ? { durationMs } : {}),
    ...(line ? { progress: (done: number, ms: number) => line(`${done} requests, ${Math.round(done / (ms / 1000))}/s`) } : {}),
    ...(tls ? { tls } : {}),
    ...(authorization !== undefined ? { authorization } : {}),
  };
}

const prefixPath = (prefix: string) => `/v2/keys${prefix.replace(/\/+$/, '')}`;

export const benchCommand: CommandModule<GlobalArgs, BenchArgs> = {
  command: 'bench <workload>',
  describe: 'a load generator for any etcd v2 API endpoint: put, get, watch',
  builder: (yargs) =>
    (yargs as Argv<GlobalArgs>)
      .option('clients', { type: 'number', default: 16, describe: 'concurrent requests, spread over --endpoints (each its own keep-alive connection)' })
      .option('total', { type: 'number', describe: 'stop after this many requests' })
      .option('duration', { type: 'string', describe: 'stop after this long (default 10s unless --total)' })
      .option('key-space', { type: 'number', default: 100_000, describe: 'how many distinct keys' })
      .option('value-size', { type: 'number', default: 256, describe: 'bytes per value (put)' })
      .option('consistency', { choices: CONSISTENCY, default: 'l' as Consistency, describe: 'get: l linearizable (quorum=true), s the member\'s own data' })
      .option('sequential', { type: 'boolean', default: false, describe: 'put: keys in order 0, 1, 2... (to fill the key space) instead of spread' })
      .option('prefix', { type: 'string', default: '/bench', describe: 'the directory the benchmark writes under' })
      .option('watchers', { type: 'number', default: 1000, describe: 'watch: how many watchers' })
      .option('mode', { choices: ['stream', 'poll'] as const, default: 'stream' as const, describe: 'watch: streams (stream=true) or long polls re-armed with waitIndex' })
      .option('events', { type: 'number', default: 200, describe: 'watch: how many writes the watchers must each see' })
      .option('rate', { type: 'number', default: 50, describe: 'watch: writes per second' })
      .command('put', 'write random keys of the key space', (y: Argv) => ownOptionsFirst(y).example('$0 bench put --clients 64 --duration 10s', 'writes of 256-byte values over 100,000 keys'), async (argv) => {
        const a = args(argv);
        const body = valueBody(a.valueSize);
        const path = prefixPath(a.prefix);
        const result = await runLoad('put', loadOptions(a), (i) => ({ method: 'PUT', path: `${path}/k${keyFor(i, a.keySpace, a.sequential)}`, body, ok: (s) => s === 200 || s === 201 }));
        print(result, formatOf(a), processIo);
      })
      .command('get', 'read random keys of the key space (missing ones count as errors: fill it first with put --sequential)', (y: Argv) => ownOptionsFirst(y).example('$0 bench put --sequential --total 100000 && $0 bench get --consistency s', 'fill the key space, then read it'), async (argv) => {
        const a = args(argv);
        const path = prefixPath(a.prefix);
        const query = a.consistency === 'l' ? '?quorum=true' : '';
        const result = await runLoad(`get (${a.consistency === 'l' ? 'linearizable' : 'serializable'})`, loadOptions(a), (i) => ({ method: 'GET', path: `${path}/k${keyFor(i, a.keySpace, false)}${query}`, ok: (s) => s === 200 }));
        print(result, formatOf(a), processIo);
      })
      .command('watch', 'W watchers on a directory and a writer at --rate: delivery latency, missed and duplicated events', (y: Argv) => ownOptionsFirst(y).example('$0 bench watch --watchers 10000 --events 100 --rate 20', 'delivery to 10,000 streaming watchers'), async (argv) => {
        const a = args(argv);
        for (const [name, value] of [['watchers', a.watchers], ['events', a.events]] as const) positive(name, value);
        if (!(a.rate > 0)) throw new UsageError(`--rate must be above 0, not ${a.rate}`);
        const line = progressLine();
        const tls = clientTlsFor(a);
        const result = await runWatchLoad({ endpoints: parseEndpoints(a.endpoints), watchers: a.watchers, mode: a.mode, events: a.events, rate: a.rate, prefix: `${a.prefix.replace(/\/+$/, '')}-watch`, ...(line ? { progress: line } : {}), ...(tls ? { tls } : {}) });
        print(result, formatOf(a), processIo);
        if (result.missed > 0 || result.duplicated > 0) process.exitCode = 5;
      })
      .demandCommand(1, 'name a workload: put, get, watch')
      .example('$0 bench put --clients 64 --duration 10s', 'writes of 256-byte values over 100,000 keys')
      .example('$0 bench put --sequential --total 100000 --clients 64 && $0 bench get --clients 64 --consistency s', 'fill the key space, then read it')
      .example('$0 bench watch --watchers 10000 --events 100 --rate 20', 'watch delivery with 10,000 streaming watchers') as unknown as Argv<BenchArgs>,
  handler: () => undefined,
};
