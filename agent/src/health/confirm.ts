/**
 * Applying a health verdict through the boot-loader backend (bootloader/CONTRACT.md,
 * "What the agent does"):
 *
 * - healthy, on trial: mark-good (the trial ends; the deployment stays the default);
 * - unhealthy, on trial: record the failure (`last-failure.json`, durable before anything
 *   else), mark-bad (the whole try budget is spent and `canopy_failed` set), run the
 *   `red.d` hooks, then ask for a reboot: the boot loader falls back on the next boot;
 * - no trial (a confirmed deployment, or no boot-loader integration): nothing is written
 *   to the boot loader; an unhealthy confirmed system is reported, not rolled back, since
 *   there is nothing to fall back to automatically;
 * - never while a fallback is recorded or when the previous entry was booted: confirming
 *   then would make the failed deployment the default again. {@link checkAfterBoot}
 *   (after-boot.ts) handles those boots, and runs first.
 *
 * The report of every confirming run is kept as `last-report.json`.
 */
import { CanopyError } from '../core/errors';
import type { BootloaderBackend, BootloaderState, EntryIndex } from '../bootloader/index';
import type { HealthRun } from './check-result';
import type { DeploymentContext } from './check-env';
import { runHealthChecks, runHealthHooks, type HealthRunOptions } from './runner';
import { HEALTH_STATE_DIR, LAST_FAILURE_FILE, LAST_REPORT_FILE, writeStateFile } from './state-files';
import { decideVerdict, healthReport, type HealthReport, type HealthVerdict } from './verdict';

/** What confirming needs from the outside. */
export interface ConfirmPorts {
  backend: BootloaderBackend;
  /** Health state directory (default `/var/lib/canopy/health`). */
  stateDir?: string;
  /** Asks the system to reboot (e.g. `systemctl reboot`); called at most once per run. */
  reboot(reason: string): Promise<void>;
  /** Wall-clock milliseconds for timestamps (default Date.now). */
  now?: () => number;
}

/** The running boot. */
export interface BootedInfo {
  /** The boot entry the system came from: 0 the default, 1 the previous. */
  bootedEntry: EntryIndex;
  /** The booted commit, when known. */
  commit?: string | null;
}

/** What {@link applyVerdict} did to the boot loader. */
export type ConfirmAction = 'marked-good' | 'marked-bad' | 'none';

/** Why it did (or did not). */
export type ConfirmReason = 'confirmed' | 'failed-trial' | 'no-trial' | 'fallback-recorded' | 'booted-previous';

export interface ConfirmOutcome {
  action: ConfirmAction;
  reason: ConfirmReason;
  rebootRequested: boolean;
  /** The boot state after the action. */
  state: BootloaderState;
  /** A hook callback's error, reported and not rethrown (it must not stop a reboot). */
  hookError?: string;
}

/** The failure recorded before mark-bad (`last-failure.json`). */
export interface FailureRecord {
  version: 1;
  commit: string | null;
  time: string;
  bootloader: string;
  report: HealthReport;
}

function stateDirOf(ports: ConfirmPorts): string {
  return ports.stateDir ?? HEALTH_STATE_DIR;
}

function isoNow(ports: ConfirmPorts): string {
  return new Date((ports.now ?? Date.now)()).toISOString();
}

/**
 * Applies `report`'s verdict. `afterWrite` runs after the boot-loader write (or after
 * deciding there is none) and before any reboot; its error is returned in `hookError`.
 *
 * @throws ERR_BOOT_STATE / ERR_ENV_* / ERR_IO from the backend; ERR_IO, ERR_NO_SPACE when
 *   the state cannot be written (then the boot loader is left untouched); whatever
 *   `reboot` throws.
 */
export async function applyVerdict(
  ports: ConfirmPorts, report: HealthReport, boot: BootedInfo,
  afterWrite?: (action: ConfirmAction) => Promise<void>,
): Promise<ConfirmOutcome> {
  const dir = stateDirOf(ports);
  const before = await ports.backend.readState();
  await writeStateFile(dir, LAST_REPORT_FILE, report);
  const hook = async (outcome: ConfirmOutcome): Promise<ConfirmOutcome> => {
    if (!afterWrite) return outcome;
    try {
      await afterWrite(outcome.action);
    } catch (e) {
      return { ...outcome, hookError: (e as Error).message };
    }
    return outcome;
  };
  if (before.summary.fallback) return hook({ action: 'none', reason: 'fallback-recorded', rebootRequested: false, state: before });
  if (boot.bootedEntry === 1) return hook({ action: 'none', reason: 'booted-previous', rebootRequested: false, state: before });
  if (!before.summary.trial) return hook({ action: 'none', reason: 'no-trial', rebootRequested: false, state: before });
  if (report.healthy) {
    const state = await ports.backend.markGood();
    return hook({ action: 'marked-good', reason: 'confirmed', rebootRequested: false, state });
  }
  const record: FailureRecord = { version: 1, commit: boot.commit ?? null, time: isoNow(ports), bootloader: before.name, report };
  await writeStateFile(dir, LAST_FAILURE_FILE, record);
  const state = await ports.backend.markBad();
  const outcome = await hook({ action: 'marked-bad', reason: 'failed-trial', rebootRequested: true, state });
  const names = report.failed.map((f) => f.check).join(', ');
  await ports.reboot(`health check failed: ${names}`);
  return outcome;
}

/** Options of {@link runHealthAndConfirm}. */
export interface RunAndConfirmOptions extends HealthRunOptions {
  ports: ConfirmPorts;
  boot: BootedInfo;
  /** Apply the verdict (default true). Without it nothing is written and no hook runs. */
  confirm?: boolean;
}

/** Everything one health run produced. */
export interface RunAndConfirmResult {
  run: HealthRun;
  verdict: HealthVerdict;
  report: HealthReport;
  outcome: ConfirmOutcome | null;
  hooks: HealthRun | null;
}

/**
 * The whole per-boot sequence: read the boot state (for the checks' `CANOPY_TRIAL`), run
 * `required.d` and `wanted.d`, draw the verdict, and (unless `confirm` is false) apply it
 * with the `green.d` or `red.d` hooks between the boot-loader write and any reboot.
 *
 * @throws as {@link runHealthChecks} and {@link applyVerdict}.
 */
export async function runHealthAndConfirm(options: RunAndConfirmOptions): Promise<RunAndConfirmResult> {
  const { ports, boot } = options;
  const state = await ports.backend.readState();
  const context: DeploymentContext = {
    ...options.context,
    commit: options.context?.commit ?? boot.commit ?? null,
    bootloader: state.name,
    trial: state.summary.trial && boot.bootedEntry === 0,
    triesLeft: state.summary.triesLeft,
  };
  const runOptions: HealthRunOptions = { ...options, context };
  const run = await runHealthChecks(runOptions);
  const verdict = decideVerdict(run);
  let report = healthReport(run, verdict, context);
  if (options.confirm === false) return { run, verdict, report, outcome: null, hooks: null };
  let hooks: HealthRun | null = null;
  const outcome = await applyVerdict(ports, report, boot, async (action) => {
    hooks = await runHealthHooks(verdict, { ...runOptions, action });
    report = healthReport(run, verdict, context, hooks);
    await writeStateFile(stateDirOf(ports), LAST_REPORT_FILE, report);
  });
  return { run, verdict, report, outcome, hooks };
}

/**
 * `admin mark-good`: confirms the booted deployment by hand, as a passing health check
 * would. Returns the boot state after it.
 *
 * @throws ERR_BOOT_STATE when the previous entry was booted (confirming would make the
 *   other, unbooted deployment the default) or a fallback is recorded; the backend's errors.
 */
export async function markBootedGood(ports: Pick<ConfirmPorts, 'backend'>, boot: BootedInfo): Promise<BootloaderState> {
  if (boot.bootedEntry === 1) {
    throw new CanopyError('ERR_BOOT_STATE',
      'mark-good: the system runs the previous boot entry; confirming would make the other deployment the default (finish the rollback instead)',
      { loader: ports.backend.name, action: 'mark-good' });
  }
  return ports.backend.markGood();
}
