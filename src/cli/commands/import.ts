import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { Argv, CommandModule } from 'yargs';
import { normalizeKey } from '../../api/key-path.ts';
import type { ExportDocument } from '../../client/export-format.ts';
import { MalformedExportError, parseExportDocument } from '../../client/export-format.ts';
import { importDocument } from '../../client/import.ts';
import { UsageError } from '../errors.ts';
import type { GlobalArgs, KeysDeps } from '../global-options.ts';
import { formatOf } from '../global-options.ts';
import { processIo } from '../io.ts';
import type { OutputFormat } from '../printers.ts';
import { runKeysCommand } from '../run-keys-command.ts';
import { formatImportProgress, formatImportSummary, formatSkippedKey } from '../transfer-printers.ts';

export interface ImportCommandOptions {
  /** The export document's text. */
  readonly text: string;
  /** Where the text came from, for messages. */
  readonly source: string;
  readonly prefix?: string;
  readonly overwrite: boolean;
  readonly verbose: boolean;
  readonly concurrency: number;
  readonly format: OutputFormat;
}

export interface ImportDeps extends KeysDeps {
  readonly now: () => number;
  /** Told after each node; the CLI shows progress with it. */
  readonly progress?: (done: number, total: number) => void;
  /** Where the nodes go, for the summary. */
  readonly target: string;
}

/** Checks the whole document, then writes it; prints a summary of what was written and skipped. */
export async function runImport(options: ImportCommandOptions, deps: ImportDeps): Promise<void> {
  let doc: ExportDocument;
  try {
    doc = parseExportDocument(options.text);
  } catch (error) {
    if (error instanceof MalformedExportError) throw new MalformedExportError(`${options.source}: ${error.message}; nothing was imported`);
    throw error;
  }
  const summary = await importDocument(deps.client, doc, {
    ...(options.prefix !== undefined ? { prefix: options.prefix } : {}),
    overwrite: options.overwrite,
    concurrency: options.concurrency,
    now: deps.now,
    ...(options.verbose ? { onSkip: (key, reason) => deps.io.err(formatSkippedKey(key, reason)) } : {}),
    ...(deps.progress !== undefined ? { onProgress: deps.progress } : {}),
  });
  if (options.format === 'json') deps.io.out(JSON.stringify(summary));
  deps.io.err(formatImportSummary(summary, deps.target));
}

/** Progress for files of at least this many nodes. */
const LARGE_IMPORT = 1000;
/** Off a terminal, a line every this many nodes. */
const PROGRESS_EVERY = 10_000;

/** On a terminal, one line rewritten in place at most 5 times a second; elsewhere a line every PROGRESS_EVERY nodes. */
function progressOnStderr(): (done: number, total: number) => void {
  let shownAt = 0;
  return (done, total) => {
    if (total < LARGE_IMPORT) return;
    if (!process.stderr.isTTY) {
      if (done % PROGRESS_EVERY === 0 || done === total) process.stderr.write(`${formatImportProgress(done, total)}\n`);
      return;
    }
    const now = Date.now();
    if (now - shownAt < 200 && done !== total) return;
    shownAt = now;
    process.stderr.write(`\r${formatImportProgress(done, total)}${done === total ? '\n' : ''}`);
  };
}

async function readDocument(file: string): Promise<string> {
  if (file === '-') return readFileSync(0, 'utf8');
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    throw new UsageError(`${file}: cannot read it (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
}

interface ImportArgs extends GlobalArgs {
  FILE: string;
  prefix?: string;
  overwrite: boolean;
  verbose: boolean;
  concurrency: number;
}

export const importCommand: CommandModule<GlobalArgs, ImportArgs> = {
  command: 'import <FILE>',
  describe: 'write an export document into the cluster (creates only, unless --overwrite)',
  builder: (yargs) =>
    (yargs as Argv<GlobalArgs>)
      .positional('FILE', { type: 'string', demandOption: true, describe: 'a file written by kvctl export (- for standard input)' })
      .option('prefix', { type: 'string', describe: 'put the exported key here instead (/app exported, --prefix /new: /app/a lands at /new/a)' })
      .option('overwrite', { type: 'boolean', default: false, describe: 'replace keys that exist (default: leave them, and count them as skipped)' })
      .option('verbose', { type: 'boolean', default: false, describe: 'name each skipped key on stderr' })
      .option('concurrency', { type: 'number', default: 32, describe: 'writes in flight at once' })
      .example('$0 import backup.json', 'create every key of backup.json that does not exist yet')
      .example('$0 import config.json --prefix /staging/config --overwrite', 'into another directory, replacing what is there')
      .example('$0 export --endpoints http://etcd:2379 | $0 import -', 'copy a tree from etcd (for a live copy: kvctl mirror)') as unknown as Argv<ImportArgs>,
  handler: async (argv) => {
    if (!(Number.isInteger(argv.concurrency) && argv.concurrency >= 1)) throw new UsageError(`--concurrency must be a whole number, at least 1, not ${argv.concurrency}`);
    const text = await readDocument(argv.FILE);
    return runKeysCommand(argv, processIo, (deps) =>
      runImport(
        {
          text,
          source: argv.FILE === '-' ? 'standard input' : argv.FILE,
          ...(argv.prefix !== undefined ? { prefix: normalizeKey(argv.prefix) } : {}),
          overwrite: argv.overwrite,
          verbose: argv.verbose,
          concurrency: argv.concurrency,
          format: formatOf(argv),
        },
        { ...deps, now: Date.now, progress: progressOnStderr(), target: argv.endpoints },
      ),
    );
  },
};
