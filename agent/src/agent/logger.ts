/**
 * The daemon's log: one JSON object per line on stderr, which journald
 * stores as one entry per event (`journalctl -u canopy-agent -o cat | jq`).
 * Fields: `time` (ISO 8601), `level`, `msg`, then the event's own fields.
 * Lines below the current level are dropped; the level can be raised for a
 * while (a `set-log-level` command with a duration) and falls back by
 * itself.
 */
import type { LogLevel } from '../channel/index';

const RANK: Readonly<Record<LogLevel, number>> = { error: 0, warn: 1, info: 2, debug: 3, trace: 4 };

export type LogFields = Record<string, unknown>;

export interface Logger {
  log(level: LogLevel, msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  debug(msg: string, fields?: LogFields): void;
  /** The level in force now. */
  readonly level: LogLevel;
  /** Sets the level; with `durationMs`, only for that long, then back to the base level. */
  setLevel(level: LogLevel, durationMs?: number): void;
  /** Cancels a pending level reset (at shutdown). */
  close(): void;
}

export interface JsonLoggerOptions {
  level: LogLevel;
  /** Where lines go (default: process.stderr). */
  write?: (line: string) => void;
  now?: () => number;
}

/** True when `level` is one of the five names. */
export function isLogLevel(level: string): level is LogLevel {
  return Object.hasOwn(RANK, level);
}

/** A logger writing JSON lines. */
export function jsonLogger(opts: JsonLoggerOptions): Logger {
  const write = opts.write ?? ((line: string) => void process.stderr.write(line));
  const now = opts.now ?? Date.now;
  let base: LogLevel = opts.level;
  let current: LogLevel = opts.level;
  let timer: NodeJS.Timeout | undefined;
  const log = (level: LogLevel, msg: string, fields?: LogFields): void => {
    if (RANK[level] > RANK[current]) return;
    let line: string;
    try {
      line = JSON.stringify({ time: new Date(now()).toISOString(), level, msg, ...fields });
    } catch {
      line = JSON.stringify({ time: new Date(now()).toISOString(), level, msg, note: 'fields could not be serialized' });
    }
    write(`${line}\n`);
  };
  return {
    log,
    error: (m, f) => log('error', m, f),
    warn: (m, f) => log('warn', m, f),
    info: (m, f) => log('info', m, f),
    debug: (m, f) => log('debug', m, f),
    get level() {
      return current;
    },
    setLevel(level, durationMs) {
      clearTimeout(timer);
      timer = undefined;
      if (durationMs === undefined) {
        base = level;
        current = level;
        return;
      }
      current = level;
      timer = setTimeout(() => {
        current = base;
        log('info', `log level back to ${base}`);
      }, durationMs);
      timer.unref();
    },
    close() {
      clearTimeout(timer);
    },
  };
}
