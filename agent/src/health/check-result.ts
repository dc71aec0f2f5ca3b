/**
 * The data a health run produces: one result per check or hook, and the notes the
 * directory walk made (masked files, files that are not executable). Plain JSON-safe
 * values, so a run can be logged, persisted and reported as it is.
 */

/** Check directories: `required.d` must pass, `wanted.d` failures only warn. */
export type CheckKind = 'required' | 'wanted';
/** Hook directories: `green.d` runs after a good verdict, `red.d` after a bad one. */
export type HookKind = 'green' | 'red';
/** Any of the four greenboot-compatible directories. */
export type HealthDirKind = CheckKind | HookKind;

/** Directory name of each kind, as greenboot names them. */
export const HEALTH_DIR_NAMES: Readonly<Record<HealthDirKind, string>> = {
  required: 'required.d',
  wanted: 'wanted.d',
  green: 'green.d',
  red: 'red.d',
};

/**
 * How one check ended:
 * - `passed`: exit status 0;
 * - `failed`: a non-zero exit status, or killed by a signal it did not get from us;
 * - `timeout`: still running when its time was up (the whole process group was killed);
 * - `error`: it could not be started, or its settings file is invalid;
 * - `skipped`: not run, because an earlier required check failed.
 */
export type CheckStatus = 'passed' | 'failed' | 'timeout' | 'error' | 'skipped';

/** One check or hook as it ran (its last attempt, with the total time of all attempts). */
export interface CheckResult {
  /** The file name, e.g. `10-systemd-running`. */
  name: string;
  kind: HealthDirKind;
  /** The file that ran (under the layer that won). */
  path: string;
  /** The layer directory it came from, e.g. `/usr/lib/canopy/health`. */
  layer: string;
  status: CheckStatus;
  /** Exit status of the last attempt, or null (signal, timeout, not started). */
  exitCode: number | null;
  /** Signal that ended the last attempt, or null. */
  signal: string | null;
  /** The timeout in force for each attempt, in milliseconds. */
  timeoutMs: number;
  /** Attempts made (1 + retries used); 0 when skipped or not startable. */
  attempts: number;
  /** Time of all attempts together, in milliseconds (process clock). */
  durationMs: number;
  /** The end of stdout and stderr of the last attempt, interleaved as they arrived. */
  output: string;
  /** Bytes the last attempt wrote in all. */
  outputBytes: number;
  /** True when `output` is only the tail. */
  outputTruncated: boolean;
  /** Why the check could not run (status `error`) or was skipped. */
  message?: string;
}

/** Something the directory walk noticed. */
export interface HealthNote {
  level: 'warning' | 'info';
  kind: HealthDirKind;
  name: string;
  path: string;
  message: string;
}

/** A run over one or more directories. */
export interface HealthRun {
  /** Wall-clock start, ISO 8601. */
  startedAt: string;
  durationMs: number;
  results: CheckResult[];
  notes: HealthNote[];
}
