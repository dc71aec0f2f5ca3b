/**
 * Health checks and the verdict that confirms or rejects a boot.
 *
 * - runner: greenboot-compatible directories (`required.d`, `wanted.d`, `green.d`,
 *   `red.d`), layered `/usr/lib/canopy/health` < `/etc/canopy/health` with masking, one
 *   process per check with a clean environment, a timeout that kills the process group,
 *   bounded output and optional retries;
 * - verdict: a pure function from results to `{healthy, failed, warnings}` and the
 *   JSON-safe report the agent publishes;
 * - confirm: mark-good / record + mark-bad + reboot through the boot-loader backend;
 * - after-boot: detect a fallback, record why, finish the rollback in the contract's
 *   order, and reject the failed commit until told otherwise.
 *
 * Error codes: ERR_IO, ERR_PERMISSION, ERR_NO_SPACE (directories, state files),
 * ERR_CONFIG_INVALID (settings), ERR_STATE_INVALID (state files), ERR_CHECKSUM_INVALID,
 * ERR_INVALID_ARGUMENT, and the boot-loader backend's ERR_BOOT_STATE / ERR_ENV_*.
 */
export {
  HEALTH_DIR_NAMES,
  type CheckKind, type CheckResult, type CheckStatus, type HealthDirKind, type HealthNote, type HealthRun, type HookKind,
} from './check-result';
export { DEFAULT_HEALTH_LAYERS, SETTINGS_SUFFIX, listHealthDir, type HealthDirListing, type HealthDirOptions, type HealthFile } from './check-dirs';
export {
  DEFAULT_CHECK_SETTINGS, RETRIES_MAX, RETRY_DELAY_MAX_SEC, TIMEOUT_MAX_SEC, checkSettingsFrom, readCheckSettings, resolveCheckSettings,
  type CheckSettings,
} from './check-settings';
export { BASE_CHECK_ENV, checkEnv, type DeploymentContext } from './check-env';
export { OUTPUT_TAIL_DEFAULT, OutputTail } from './output-tail';
export {
  nodeProcessPorts, runProcess, systemClock,
  type HealthClock, type ProcessOutcome, type ProcessPorts, type RunProcessOptions, type SpawnFn, type SpawnOptions, type SpawnedProcess,
} from './run-process';
export { hookKindFor, runHealthChecks, runHealthHooks, type CheckSettingsConfig, type HealthRunOptions } from './runner';
export {
  VERDICT_TAIL_CHARS, decideVerdict, healthReport,
  type HealthFailure, type HealthReport, type HealthReportCheck, type HealthVerdict, type HealthWarning,
} from './verdict';
export {
  HEALTH_STATE_DIR, LAST_FAILURE_FILE, LAST_REPORT_FILE, LAST_ROLLBACK_FILE, REJECTED_COMMITS_FILE, readStateFile, writeStateFile,
} from './state-files';
export { REJECTED_MAX, forgetRejected, isRejected, readRejectedCommits, rejectCommit, type RejectedCommit, type RejectReason } from './rejected-commits';
export {
  applyVerdict, markBootedGood, runHealthAndConfirm,
  type BootedInfo, type ConfirmAction, type ConfirmOutcome, type ConfirmPorts, type ConfirmReason, type FailureRecord,
  type RunAndConfirmOptions, type RunAndConfirmResult,
} from './confirm';
export { checkAfterBoot, readRollbackRecord, type AfterBootInfo, type AfterBootResult, type RollbackRecord } from './after-boot';
