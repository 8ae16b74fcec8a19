import type { Argv, CommandModule } from 'yargs';
import type { Interface } from 'node:readline';
import type { Registration } from '../../client/services.ts';
import { registerInstance, serviceDir } from '../../client/services.ts';
import type { GlobalArgs } from '../global-options.ts';
import { formatOf } from '../global-options.ts';
import { processIo } from '../io.ts';
import type { OutputFormat } from '../printers.ts';
import type { SessionDeps } from '../run-keys-command.ts';
import { runSessionCommand } from '../run-keys-command.ts';
import { checkTtl, holdUntil, prefixOption, segmentName, ttlOption } from '../session-options.ts';

export interface RegisterOptions {
  readonly prefix: string;
  readonly service: string;
  readonly instance: string;
  readonly address: string;
  readonly ttlSeconds: number;
  readonly format: OutputFormat;
  /** New values while it runs (progress reports): each one replaces the registration's value. */
  readonly updates?: AsyncIterable<string>;
}

/**
 * Registers INSTANCE of SERVICE at ADDRESS as a TTL key kept alive until signalled, then removes
 * it. The key also serves as a heartbeat: if this process dies, it expires after the TTL.
 */
export async function runRegister(options: RegisterOptions, deps: SessionDeps): Promise<void> {
  const key = `${serviceDir(options.prefix, options.service)}/${options.instance}`;
  const registration = await registerInstance(deps.client, key, options.address, options.ttlSeconds, (message) => deps.io.err(`warning: ${message}`));
  try {
    deps.io.out(options.format === 'json' ? JSON.stringify({ key, address: options.address, ttl: options.ttlSeconds }) : `registered ${key}=${options.address} (ttl ${options.ttlSeconds}s)`);
    if (options.updates !== undefined) void applyUpdates(options.updates, registration, deps);
    // Until signalled (exit 128+N), or until another process took the instance (exit 6).
    await holdUntil(deps.signal, registration.lease.signal);
  } finally {
    await registration.deregister().catch((error: Error) => deps.io.err(`warning: could not remove ${key} (${error.message}); it expires in ${options.ttlSeconds}s`));
  }
}

/** Writes each new value in turn; one that fails is reported, and the registration goes on. */
async function applyUpdates(updates: AsyncIterable<string>, registration: Registration, deps: SessionDeps): Promise<void> {
  for await (const value of updates) {
    if (deps.signal.aborted || registration.lease.signal.aborted) return;
    await registration.update(value).catch((error: Error) => deps.io.err(`warning: could not update the value to "${value}" (${error.message})`));
  }
}

/** The lines of standard input; closing it lets the process exit. */
function stdinLines(): Interface {
  // readline loaded here, not imported: every kvctl command outside the quick path loads this module.
  return process.getBuiltinModule('node:readline').createInterface({ input: process.stdin, crlfDelay: Infinity });
}

interface RegisterArgs extends GlobalArgs {
  service: string;
  instance: string;
  address: string;
  ttl: number;
  prefix: string;
  stdin: boolean;
}

export const registerCommand: CommandModule<GlobalArgs, RegisterArgs> = {
  command: 'register <service> <instance> <address>',
  describe: 'register a service instance (a TTL key kept alive) until signalled',
  builder: (yargs) =>
    prefixOption(ttlOption(yargs as Argv<GlobalArgs>, 'registration', 10))
      .positional('service', { type: 'string', demandOption: true })
      .positional('instance', { type: 'string', demandOption: true, describe: 'this instance\'s unique name' })
      .positional('address', { type: 'string', demandOption: true, describe: 'where to reach it, e.g. 10.0.0.5:8080 (or any value: a progress report)' })
      .option('stdin', { type: 'boolean', default: false, describe: 'each line read on standard input becomes the new value (progress reports)' })
      .example('$0 register web web-1 10.0.0.5:8080 --ttl 10', 'visible as /services/web/web-1 while this runs')
      .example('./resize.sh | $0 register jobs worker-7 starting --ttl 5 --stdin', 'each line resize.sh prints is worker-7\'s value')
      .example('curl -XPUT localhost:2379/v2/keys/services/web/web-1 -d value=10.0.0.5:8080 -d ttl=10', 'the same with curl (refresh with -d refresh=true -d prevExist=true)') as unknown as Argv<RegisterArgs>,
  handler: (argv) => {
    const options: RegisterOptions = {
      prefix: argv.prefix,
      service: segmentName('the service name', argv.service),
      instance: segmentName('the instance name', argv.instance),
      address: argv.address,
      ttlSeconds: checkTtl(argv.ttl),
      format: formatOf(argv),
    };
    const lines = argv.stdin ? stdinLines() : undefined;
    return runSessionCommand(argv, processIo, (deps) => runRegister({ ...options, ...(lines ? { updates: lines } : {}) }, deps)).finally(() => lines?.close());
  },
};
