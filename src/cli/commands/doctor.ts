import type { CommandModule } from 'yargs';
import { ExitCode } from '../exit-code.ts';
import type { Io } from '../io.ts';
import { processIo } from '../io.ts';

export interface DoctorOptions {
  /** Where to try the storage engine: a scratch database is made and removed below it. */
  readonly dir: string;
}

/**
 * Checks that this executable works on this machine: its storage engine (the classic-level
 * native addon, extracted from the executable) and its terminal UI. Returns the exit code.
 */
export async function runDoctor(options: DoctorOptions, io: Io): Promise<number> {
  const { checkStorageEngine, checkTerminalUi, renderChecks } = await import('./doctor-checks.ts');
  const checks = [await checkStorageEngine(options.dir), await checkTerminalUi()];
  io.out(renderChecks(checks));
  return checks.every((check) => check.ok) ? ExitCode.OK : ExitCode.INTERNAL;
}

export const doctorCommand: CommandModule<object, { dir: string }> = {
  command: 'doctor',
  describe: 'check that this executable works on this machine (storage engine, terminal UI)',
  builder: (yargs) =>
    yargs.option('dir', {
      type: 'string',
      default: process.env.TMPDIR ?? '/tmp',
      describe: 'directory in which to try the storage engine (use your --data-dir\'s parent)',
    }),
  handler: async (argv) => {
    process.exitCode = await runDoctor({ dir: argv.dir }, processIo);
  },
};
