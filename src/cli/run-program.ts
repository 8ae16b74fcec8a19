import type { Argv } from 'yargs';
import { UsageError } from './errors.ts';
import { ExitCode } from './exit-code.ts';
import { processIo } from './io.ts';
import { reportError } from './report-error.ts';
import { ignoreUnknownEnv } from './unknown-env.ts';

/**
 * Runs a yargs program: the one place where errors become a line on stderr and an exit code.
 */
export async function runProgram<T>(parser: Argv<T>, args: readonly string[], version: string, envPrefix: string): Promise<number> {
  // yargs reads a variable named exactly like the prefix ("KVD_") as an option with an empty
  // name, which strict mode refuses: such a variable means nothing to us, so drop it.
  delete process.env[envPrefix];
  const program = parser
    .version(version)
    .help()
    .alias('h', 'help')
    .alias('v', 'version')
    .middleware(ignoreUnknownEnv(parser as Argv<unknown>, envPrefix, args, (line) => processIo.err(line)), true)
    .demandCommand(1)
    .recommendCommands()
    .strict()
    .wrap(Math.min(110, process.stdout.columns || 100))
    .fail((message, error, failed) => {
      // A command group named without a subcommand (`kvctl member`): its help lists them.
      if (error === undefined && /^Not enough non-option arguments/.test(message)) {
        failed.showHelp((help) => processIo.err(help));
        throw new UsageError('name a command (the list is above)');
      }
      throw error ?? new UsageError(message);
    });
  try {
    await program.parseAsync();
    return Number(process.exitCode ?? ExitCode.OK);
  } catch (error) {
    return reportError(error);
  }
}
