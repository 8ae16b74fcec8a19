import type { CommandModule, Options } from 'yargs';
import { DEL_OPTIONS, delCommand } from './commands/del.ts';
import { GET_OPTIONS, getCommand } from './commands/get.ts';
import { LS_DEFAULT_KEY, LS_OPTIONS, lsCommand } from './commands/ls.ts';
import { PUT_OPTIONS, putCommand } from './commands/put.ts';
import type { GlobalArgs } from './global-options.ts';
import { globalOptions } from './global-options.ts';

/**
 * kvctl's quick path: the commands that scripts call in loops (get, put, del, ls),
 * parsed without loading yargs (and its Unicode tables), which would double kvctl's start-up.
 * It takes only a plain, valid command line, using the same option specs and handlers as yargs;
 * anything else (help, a mistake, an unknown option or KVCTL_ variable, `--no-x`, a repeated
 * option) goes to yargs, so that every message and every edge case has one owner.
 */

/** A command the quick path knows: its yargs module and its own options. */
export interface QuickCommand {
  readonly module: CommandModule<GlobalArgs, never>;
  readonly options: Readonly<Record<string, Options>>;
  /** Values of optional positionals left out (yargs takes them from the positional's default). */
  readonly positionalDefaults?: Readonly<Record<string, string>>;
}

export const QUICK_COMMANDS: readonly QuickCommand[] = [
  { module: getCommand as unknown as CommandModule<GlobalArgs, never>, options: GET_OPTIONS },
  { module: putCommand as unknown as CommandModule<GlobalArgs, never>, options: PUT_OPTIONS },
  { module: delCommand as unknown as CommandModule<GlobalArgs, never>, options: DEL_OPTIONS },
  { module: lsCommand as unknown as CommandModule<GlobalArgs, never>, options: LS_OPTIONS, positionalDefaults: { KEY: LS_DEFAULT_KEY } },
];

/** What the quick path parsed: the command and the argv its yargs handler expects. */
export interface QuickParse {
  readonly command: QuickCommand;
  readonly argv: Record<string, unknown>;
}

const ENV_PREFIX = 'KVCTL_';

/** The command line parsed as yargs would, or undefined when it is not one the quick path takes. */
export function parseQuick(args: readonly string[], env: NodeJS.ProcessEnv, commands: readonly QuickCommand[] = QUICK_COMMANDS): QuickParse | undefined {
  const variables = kvctlVariables(env);
  const globals = globalOptions(env);
  for (const command of commands) {
    const specs = { ...globals, ...command.options };
    const argv: Record<string, unknown> = { ...command.positionalDefaults };
    for (const [flag, spec] of Object.entries(specs)) if (spec.default !== undefined) argv[camel(flag)] = spec.default;
    if (!readEnv(variables, specs, argv)) continue;
    const positionals = readFlags(args, specs, argv);
    if (positionals === undefined || !namesOf(command.module).includes(positionals[0] ?? '')) continue;
    return assignPositionals(command, positionals.slice(1), argv) ? { command, argv } : undefined;
  }
  return undefined;
}

/** Runs the command line if the quick path takes it: the exit code, or undefined for yargs. */
export async function runQuick(args: readonly string[], env: NodeJS.ProcessEnv): Promise<number | undefined> {
  const parsed = parseQuick(args, env);
  if (parsed === undefined) return undefined;
  try {
    await parsed.command.module.handler(parsed.argv as never);
    return Number(process.exitCode ?? 0);
  } catch (error) {
    return (await import('./report-error.ts')).reportError(error);
  }
}

function namesOf(module: CommandModule<GlobalArgs, never>): string[] {
  const aliases = module.aliases === undefined ? [] : [module.aliases].flat();
  return [String(module.command).split(' ')[0]!, ...aliases];
}

function camel(flag: string): string {
  return flag.replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase());
}

/**
 * The KVCTL_ variables, read once: each read of process.env is a call into C++, so the names are
 * listed once and only these values read.
 */
function kvctlVariables(env: NodeJS.ProcessEnv): Array<[string, string]> {
  return Object.keys(env)
    .filter((variable) => variable.startsWith(ENV_PREFIX))
    .flatMap((variable) => {
      const value = env[variable];
      return value === undefined ? [] : [[variable, value] as [string, string]];
    });
}

/** KVCTL_X variables of known options; false when one is unknown or its value needs yargs. */
function readEnv(variables: ReadonlyArray<[string, string]>, specs: Record<string, Options>, argv: Record<string, unknown>): boolean {
  for (const [variable, value] of variables) {
    const flag = variable.slice(ENV_PREFIX.length).toLowerCase().replaceAll('_', '-');
    const spec = specs[flag];
    if (spec === undefined) return false;
    const parsed = valueOf(spec, value);
    if (parsed === undefined) return false;
    argv[camel(flag)] = parsed;
  }
  return true;
}

/** A flag's value as yargs gives it (booleans only as true/false), or undefined to leave it to yargs. */
function valueOf(spec: Options, text: string): unknown {
  if (spec.type === 'boolean') return text === 'true' ? true : text === 'false' ? false : undefined;
  if (text === '' || text.startsWith('-')) return undefined;
  if (spec.choices !== undefined && !(spec.choices as readonly unknown[]).includes(text)) return undefined;
  return text;
}

/** Reads the flags into argv and returns the positionals, or undefined for anything unusual. */
function readFlags(args: readonly string[], specs: Record<string, Options>, argv: Record<string, unknown>): string[] | undefined {
  const positionals: string[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (!arg.startsWith('-')) {
      positionals.push(arg);
      continue;
    }
    const [given, inline] = splitFlag(arg);
    const flag = flagNamed(specs, given);
    if (flag === undefined || seen.has(flag)) return undefined;
    seen.add(flag);
    const spec = specs[flag]!;
    if (spec.type === 'boolean') {
      // `--recursive=false` or `-r true` take a value in yargs: leave those to it.
      if (inline !== undefined || args[i + 1] === 'true' || args[i + 1] === 'false') return undefined;
      argv[camel(flag)] = true;
      continue;
    }
    const value = valueOf(spec, inline ?? args[++i] ?? '');
    if (value === undefined) return undefined;
    argv[camel(flag)] = value;
  }
  return positionals;
}

/** `--name=value` as [name, value]; `--name` and `-n` as [name, undefined]. */
function splitFlag(arg: string): [string, string | undefined] {
  const long = /^--([a-z][a-z-]*)(?:=(.*))?$/s.exec(arg);
  if (long !== null) return [long[1]!, long[2]];
  return /^-[a-zA-Z]$/.test(arg) ? [arg.slice(1), undefined] : ['', undefined];
}

/** The spec's name for a flag as given (its own name or an alias). */
function flagNamed(specs: Record<string, Options>, given: string): string | undefined {
  if (given === '') return undefined;
  if (specs[given] !== undefined) return given;
  return Object.keys(specs).find((flag) => [specs[flag]!.alias ?? []].flat().includes(given));
}

/** The command's `<KEY> [value]` positionals into argv; false when the count does not fit. */
function assignPositionals(command: QuickCommand, values: readonly string[], argv: Record<string, unknown>): boolean {
  const declared = String(command.module.command).split(' ').slice(1);
  const required = declared.filter((p) => p.startsWith('<')).length;
  if (values.length < required || values.length > declared.length) return false;
  declared.forEach((p, i) => {
    const name = p.slice(1, -1);
    if (values[i] !== undefined) argv[name] = values[i];
  });
  return true;
}
