/**
 * From check results to a verdict, and from a verdict to the report the agent keeps and
 * publishes. Pure: no I/O, no clock.
 *
 * A boot is healthy when no `required.d` check failed, timed out or could not be run
 * (an invalid settings file counts: fail closed). `wanted.d` failures, skipped files and a
 * run without any required check are warnings. Checks skipped after a required failure
 * are neither.
 */
import type { CheckKind, CheckResult, CheckStatus, HealthDirKind, HealthRun } from './check-result';
import type { DeploymentContext } from './check-env';
import { tailChars } from './output-tail';

/** Characters of output kept per failure or warning in a verdict (the capture keeps more). */
export const VERDICT_TAIL_CHARS = 4096;

/** A required check that did not pass. */
export interface HealthFailure {
  check: string;
  kind: CheckKind;
  status: Exclude<CheckStatus, 'passed' | 'skipped'>;
  exitCode: number | null;
  signal: string | null;
  timeout: boolean;
  /** Why it could not run, or that it timed out. */
  message: string | null;
  attempts: number;
  outputTail: string;
}

/** Something worth knowing that does not fail the boot. */
export interface HealthWarning {
  check: string | null;
  kind: HealthDirKind | null;
  message: string;
  exitCode?: number | null;
  signal?: string | null;
  timeout?: boolean;
  outputTail?: string;
}

/** The verdict. */
export interface HealthVerdict {
  healthy: boolean;
  failed: HealthFailure[];
  warnings: HealthWarning[];
}

/** One line of the report per check or hook (output only for failures and warnings). */
export interface HealthReportCheck {
  name: string;
  kind: HealthDirKind;
  status: CheckStatus;
  exitCode: number | null;
  signal: string | null;
  attempts: number;
  durationMs: number;
  timeoutMs: number;
  layer: string;
  message: string | null;
}

/** The JSON-safe report: persisted as last-report.json and published by the agent. */
export interface HealthReport {
  version: 1;
  healthy: boolean;
  startedAt: string;
  durationMs: number;
  deployment: {
    commit: string | null;
    osname: string | null;
    version: string | null;
    bootloader: string | null;
    trial: boolean | null;
    triesLeft: number | null;
  };
  checks: HealthReportCheck[];
  failed: HealthFailure[];
  warnings: HealthWarning[];
  hooks: HealthReportCheck[];
}

function describe(r: CheckResult): string {
  if (r.status === 'timeout' || r.status === 'error') return r.message ?? r.status;
  return r.signal !== null ? `killed by ${r.signal}` : `exited with status ${String(r.exitCode)}`;
}

/** Draws the verdict from a run of `required.d` and `wanted.d`. */
export function decideVerdict(run: Pick<HealthRun, 'results' | 'notes'>, options: { tailChars?: number } = {}): HealthVerdict {
  const max = options.tailChars ?? VERDICT_TAIL_CHARS;
  const failed: HealthFailure[] = [];
  const warnings: HealthWarning[] = [];
  let required = 0;
  for (const r of run.results) {
    if (r.kind === 'required' && r.status !== 'skipped') required++;
    if (r.status === 'passed' || r.status === 'skipped') continue;
    if (r.kind === 'required') {
      failed.push({
        check: r.name, kind: 'required', status: r.status, exitCode: r.exitCode, signal: r.signal,
        timeout: r.status === 'timeout', message: r.message ?? null, attempts: r.attempts, outputTail: tailChars(r.output, max),
      });
    } else {
      warnings.push({
        check: r.name, kind: r.kind, message: `${r.kind} check ${r.name} ${describe(r)}`, exitCode: r.exitCode, signal: r.signal,
        timeout: r.status === 'timeout', outputTail: tailChars(r.output, max),
      });
    }
  }
  for (const n of run.notes) {
    if (n.level === 'warning') warnings.push({ check: n.name, kind: n.kind, message: `${n.path}: ${n.message}` });
  }
  if (required === 0 && failed.length === 0) warnings.push({ check: null, kind: 'required', message: 'no required check ran' });
  return { healthy: failed.length === 0, failed, warnings };
}

function reportCheck(r: CheckResult): HealthReportCheck {
  return {
    name: r.name, kind: r.kind, status: r.status, exitCode: r.exitCode, signal: r.signal, attempts: r.attempts,
    durationMs: Math.round(r.durationMs), timeoutMs: r.timeoutMs, layer: r.layer, message: r.message ?? null,
  };
}

/** The report of a run, its verdict and (when they ran) the hooks. */
export function healthReport(
  run: HealthRun, verdict: HealthVerdict, context: DeploymentContext = {}, hooks?: Pick<HealthRun, 'results'>,
): HealthReport {
  return {
    version: 1,
    healthy: verdict.healthy,
    startedAt: run.startedAt,
    durationMs: Math.round(run.durationMs),
    deployment: {
      commit: context.commit ?? null,
      osname: context.osname ?? null,
      version: context.version ?? null,
      bootloader: context.bootloader ?? null,
      trial: context.trial ?? null,
      triesLeft: context.trial && context.triesLeft !== undefined ? context.triesLeft : null,
    },
    checks: run.results.map(reportCheck),
    failed: verdict.failed,
    warnings: verdict.warnings,
    hooks: (hooks?.results ?? []).map(reportCheck),
  };
}
