/**
 * What a command prints. Human text goes to stdout; with `--json` stdout
 * carries exactly one JSON document: the result, or `{"error": {code,
 * message, details}}` when the command fails, so a script always parses
 * stdout. Errors in text mode go to stderr as `canopy <cmd>: <message>`.
 * Warnings and progress always go to stderr.
 */
import { CanopyError, type ErrorCode } from '../core/errors';
import { exitCodeFor, type ExitCode } from './exit-codes';

/** A place to write to: process.stdout and process.stderr fit. */
export interface Sink {
  write(chunk: string | Uint8Array): unknown;
  readonly isTTY?: boolean;
  readonly columns?: number;
}

/** The outside world of the CLI, passed in so tests can fake it. */
export interface CliIo {
  readonly stdout: Sink;
  readonly stderr: Sink;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  /** Milliseconds since the epoch. */
  now(): number;
}

/** JSON.stringify that writes bigints as numbers when exact, else as strings. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? (Number.isSafeInteger(Number(v)) ? Number(v) : v.toString()) : v), 2);
}

export class Output {
  constructor(private readonly io: CliIo, readonly command: string, readonly json: boolean) {}

  /** Prints a result: `data` as JSON with --json, else the text `human()` returns. */
  result(data: unknown, human: () => string): void {
    if (this.json) this.io.stdout.write(toJson(data) + '\n');
    else {
      const text = human();
      if (text) this.io.stdout.write(text.endsWith('\n') ? text : text + '\n');
    }
  }

  /** Raw bytes on stdout (cat). */
  bytes(data: Uint8Array): void {
    this.io.stdout.write(data);
  }

  /** A line of text on stdout, in text mode only. */
  text(line: string): void {
    if (!this.json) this.io.stdout.write(line + '\n');
  }

  warn(message: string): void {
    this.io.stderr.write(`canopy ${this.command}: warning: ${message}\n`);
  }

  /** Prints an error and returns the exit status it maps to. */
  error(e: unknown): ExitCode {
    const err = asCanopyError(e);
    if (this.json) this.io.stdout.write(toJson({ error: { code: err.code, message: err.message, details: err.details } }) + '\n');
    else this.io.stderr.write(`canopy${this.command ? ' ' + this.command : ''}: ${err.message}\n`);
    return exitCodeFor(err.code);
  }
}

/**
 * Any thrown value as a CanopyError. An fs error keeps its errno class; any
 * other value is a bug, reported as an internal error with a short stack.
 */
export function asCanopyError(e: unknown): CanopyError {
  if (e instanceof CanopyError) return e;
  const err = e as NodeJS.ErrnoException;
  const errno = typeof err?.code === 'string' && /^E[A-Z]+$/.test(err.code) ? err.code : undefined;
  const message = err instanceof Error ? err.message : String(e);
  if (errno) {
    const code: ErrorCode = errno === 'ENOSPC' || errno === 'EDQUOT' ? 'ERR_NO_SPACE' : errno === 'EACCES' || errno === 'EPERM' ? 'ERR_PERMISSION' : 'ERR_IO';
    return new CanopyError(code, message, { errno }, { cause: e });
  }
  const stack = err instanceof Error ? err.stack?.split('\n').slice(1, 6).map((l) => l.trim()).join(' | ') : undefined;
  return new CanopyError('ERR_INVALID_ARGUMENT', `internal error: ${message}`, { internal: true, stack }, { cause: e });
}
