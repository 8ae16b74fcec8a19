export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFormat = 'text' | 'json';

const RANK: Readonly<Record<LogLevel, number>> = { debug: 0, info: 1, warn: 2, error: 3 };

export type LogFields = Readonly<Record<string, string | number | boolean | undefined>>;

/** One line per event on stderr: `time level message key=value ...`, or one JSON object. */
export class Logger {
  private readonly level: LogLevel;
  private readonly format: LogFormat;
  private readonly write: (line: string) => void;

  constructor(level: LogLevel, format: LogFormat, write: (line: string) => void = (line) => process.stderr.write(`${line}\n`)) {
    this.level = level;
    this.format = format;
    this.write = write;
  }

  debug(message: string, fields: LogFields = {}): void {
    this.log('debug', message, fields);
  }

  info(message: string, fields: LogFields = {}): void {
    this.log('info', message, fields);
  }

  warn(message: string, fields: LogFields = {}): void {
    this.log('warn', message, fields);
  }

  error(message: string, fields: LogFields = {}): void {
    this.log('error', message, fields);
  }

  private log(level: LogLevel, message: string, fields: LogFields): void {
    if (RANK[level] < RANK[this.level]) return;
    const time = new Date().toISOString();
    if (this.format === 'json') {
      this.write(JSON.stringify({ time, level, msg: message, ...fields }));
      return;
    }
    const rest = Object.entries(fields)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${k}=${typeof v === 'string' && /\s/.test(v) ? JSON.stringify(v) : String(v)}`)
      .join(' ');
    this.write(`${time} ${level.toUpperCase().padEnd(5)} ${message}${rest === '' ? '' : ` ${rest}`}`);
  }
}
