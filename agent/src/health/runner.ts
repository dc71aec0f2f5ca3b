/**
 * The health-check runner, greenboot-compatible in its directories and their meaning:
 *
 * 1. `required.d`: every check must pass. As greenboot does, the first failure stops the
 *    required checks (the rest are reported `skipped`) and `wanted.d` is not run, so a
 *    broken boot is rolled back without waiting for timeouts that no longer matter;
 *    `keepGoing` runs everything anyway (for `admin health` diagnostics).
 * 2. `wanted.d`: failures only warn.
 * 3. After the verdict: `green.d` hooks on a good one, `red.d` hooks on a bad one
 *    ({@link runHealthHooks}); a hook's failure is only reported.
 *
 * Each check: layered lookup (check-dirs.ts), its settings (check-settings.ts), then one
 * process per attempt (run-process.ts) in a clean environment (check-env.ts), in lexical
 * order, one at a time.
 */
import { HEALTH_DIR_NAMES, type CheckResult, type HealthDirKind, type HealthNote, type HealthRun, type HookKind } from './check-result';
import { checkEnv, type DeploymentContext } from './check-env';
import { listHealthDir, type HealthDirOptions, type HealthFile } from './check-dirs';
import { checkSettingsFrom, readCheckSettings, resolveCheckSettings, type CheckSettings } from './check-settings';
import { OUTPUT_TAIL_DEFAULT } from './output-tail';
import { nodeProcessPorts, runProcess, type ProcessOutcome, type ProcessPorts } from './run-process';
import type { HealthVerdict } from './verdict';

/** Settings as the configuration spells them (seconds), like a `NAME.json` file. */
export interface CheckSettingsConfig {
  timeoutSec?: number;
  retries?: number;
  retryDelaySec?: number;
}

/** How to run. */
export interface HealthRunOptions extends HealthDirOptions {
  /** The deployment, for the `CANOPY_*` variables. */
  context?: DeploymentContext;
  /** Defaults for every check (over the built-in 60 s, no retries). */
  defaults?: CheckSettingsConfig;
  /** Per-check settings keyed `"<dir>/<name>"` (e.g. `"required.d/10-systemd-running"`); they win over `NAME.json`. */
  checks?: Readonly<Record<string, CheckSettingsConfig>>;
  /** Output bytes kept per check (default 64 KiB). */
  outputLimit?: number;
  /** Between SIGTERM and SIGKILL when a check times out (default 3000 ms). */
  killGraceMs?: number;
  /** Run every required check and the wanted ones even after a required failure. */
  keepGoing?: boolean;
  /** Process ports (spawn, group kill, clock); Node's by default. */
  processPorts?: ProcessPorts;
  /** Called after each check or hook. */
  onResult?: (result: CheckResult) => void;
}

function skipped(kind: HealthDirKind, f: HealthFile, message: string): CheckResult {
  return {
    name: f.name, kind, path: f.path, layer: f.layer, status: 'skipped', exitCode: null, signal: null,
    timeoutMs: 0, attempts: 0, durationMs: 0, output: '', outputBytes: 0, outputTruncated: false, message,
  };
}

async function settingsFor(kind: HealthDirKind, f: HealthFile, sidecar: HealthFile | undefined, opts: HealthRunOptions): Promise<CheckSettings> {
  const key = `${HEALTH_DIR_NAMES[kind]}/${f.name}`;
  const fromConfig = opts.checks && Object.hasOwn(opts.checks, key) ? checkSettingsFrom(opts.checks[key], `configuration checks[${JSON.stringify(key)}]`) : undefined;
  const defaults = opts.defaults ? checkSettingsFrom(opts.defaults, 'configuration defaults') : undefined;
  const fromFile = sidecar ? await readCheckSettings(sidecar.path) : undefined;
  const merged = resolveCheckSettings(defaults, fromFile, fromConfig);
  return kind === 'green' || kind === 'red' ? { ...merged, retries: 0 } : merged;
}

function statusOf(o: ProcessOutcome): CheckResult['status'] {
  if (o.spawnError !== undefined) return 'error';
  if (o.timedOut) return 'timeout';
  return o.exitCode === 0 ? 'passed' : 'failed';
}

function sleep(ports: ProcessPorts, ms: number): Promise<void> {
  return ms <= 0 ? Promise.resolve() : new Promise((resolve) => { ports.clock.setTimer(ms, resolve); });
}

/** Runs one check with its retries. Never throws for the check's sake. */
async function runOne(
  kind: HealthDirKind, f: HealthFile, sidecar: HealthFile | undefined, opts: HealthRunOptions,
  extraEnv: Readonly<Record<string, string>>,
): Promise<CheckResult> {
  const ports = opts.processPorts ?? nodeProcessPorts;
  let settings: CheckSettings;
  try {
    settings = await settingsFor(kind, f, sidecar, opts);
  } catch (e) {
    return { ...skipped(kind, f, ''), status: 'error', message: `invalid settings: ${(e as Error).message}` };
  }
  let total = 0;
  let outcome: ProcessOutcome | undefined;
  let attempt = 0;
  while (attempt <= settings.retries) {
    if (attempt > 0) await sleep(ports, settings.retryDelayMs);
    attempt++;
    const env = checkEnv(opts.context ?? {}, { kind, name: f.name, attempt, timeoutMs: settings.timeoutMs }, extraEnv);
    outcome = await runProcess(f.path, {
      env, timeoutMs: settings.timeoutMs, killGraceMs: opts.killGraceMs, outputLimit: opts.outputLimit ?? OUTPUT_TAIL_DEFAULT,
    }, ports);
    total += outcome.durationMs;
    if (outcome.exitCode === 0 && !outcome.timedOut) break;
  }
  const o = outcome as ProcessOutcome;
  const result: CheckResult = {
    name: f.name, kind, path: f.path, layer: f.layer, status: statusOf(o), exitCode: o.exitCode, signal: o.signal,
    timeoutMs: settings.timeoutMs, attempts: attempt, durationMs: total,
    output: o.output, outputBytes: o.outputBytes, outputTruncated: o.outputTruncated,
  };
  if (o.spawnError !== undefined) result.message = `cannot start: ${o.spawnError}`;
  else if (o.timedOut) result.message = `timed out after ${settings.timeoutMs / 1000} s; its process group was killed`;
  return result;
}

async function runDir(
  kind: HealthDirKind, opts: HealthRunOptions, run: { results: CheckResult[]; notes: HealthNote[] },
  extraEnv: Readonly<Record<string, string>> = {}, stopOnFailure = false,
): Promise<boolean> {
  const listing = await listHealthDir(kind, opts);
  run.notes.push(...listing.notes);
  let ok = true;
  for (const f of listing.checks) {
    const result = !ok && stopOnFailure
      ? skipped(kind, f, 'not run: an earlier required check failed')
      : await runOne(kind, f, listing.settings.get(f.name), opts, extraEnv);
    if (result.status !== 'passed' && result.status !== 'skipped') ok = false;
    run.results.push(result);
    opts.onResult?.(result);
  }
  return ok;
}

/**
 * Runs `required.d`, then (unless a required check failed and `keepGoing` is off)
 * `wanted.d`. The verdict is {@link decideVerdict}'s to draw.
 *
 * @throws ERR_IO / ERR_PERMISSION when a check directory exists but cannot be listed;
 *   ERR_INVALID_ARGUMENT for a context value that cannot go into the environment.
 */
export async function runHealthChecks(opts: HealthRunOptions = {}): Promise<HealthRun> {
  const clock = (opts.processPorts ?? nodeProcessPorts).clock;
  const startedAt = new Date(clock.wallNow()).toISOString();
  const start = clock.now();
  const run = { results: [] as CheckResult[], notes: [] as HealthNote[] };
  const requiredOk = await runDir('required', opts, run, {}, !opts.keepGoing);
  if (requiredOk || opts.keepGoing) await runDir('wanted', opts, run);
  return { startedAt, durationMs: Math.max(0, clock.now() - start), ...run };
}

/** The hook directory for a verdict. */
export function hookKindFor(verdict: Pick<HealthVerdict, 'healthy'>): HookKind {
  return verdict.healthy ? 'green' : 'red';
}

/**
 * Runs the `green.d` (healthy) or `red.d` (unhealthy) hooks, telling them the verdict in
 * `CANOPY_HEALTH`, `CANOPY_HEALTH_FAILED` and (when given) `CANOPY_HEALTH_ACTION`.
 *
 * @throws as {@link runHealthChecks}.
 */
export async function runHealthHooks(verdict: HealthVerdict, opts: HealthRunOptions & { action?: string } = {}): Promise<HealthRun> {
  const clock = (opts.processPorts ?? nodeProcessPorts).clock;
  const startedAt = new Date(clock.wallNow()).toISOString();
  const start = clock.now();
  const kind = hookKindFor(verdict);
  const extra: Record<string, string> = {
    CANOPY_HEALTH: kind,
    CANOPY_HEALTH_FAILED: verdict.failed.filter((f) => f.kind === 'required').map((f) => f.check).join(' '),
  };
  if (opts.action !== undefined) extra.CANOPY_HEALTH_ACTION = opts.action;
  const run = { results: [] as CheckResult[], notes: [] as HealthNote[] };
  await runDir(kind, opts, run, extra);
  return { startedAt, durationMs: Math.max(0, clock.now() - start), ...run };
}

