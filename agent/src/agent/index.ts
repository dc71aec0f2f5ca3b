/**
 * The device agent: the update state machine (one transition table over
 * closed unions of phases, events and effects), its durable state, the
 * runner that executes effects after saving the state, the daemon that
 * wires it to the channel, the sysroot, the boot loader, the puller and the
 * health checks, and a simulated boot for tests and demos.
 *
 * Error codes: ERR_AGENT_TRANSITION (an event the table does not define for
 * the current phase), ERR_STATE_INVALID (a malformed state file),
 * ERR_CONFIG_INVALID (configuration), ERR_USAGE (command lines), and those
 * of the modules it drives (pull, sysroot, bootloader, health, channel).
 */
export {
  PHASE_NAMES, initialState, pendingOf, rollbackReasonOf, targetOf,
  type AgentError, type AgentState, type LastHealth, type LastRollback, type Phase, type PhaseName, type RollbackReason, type RunningCommit,
  type Target, type TargetSource,
} from './states';
export { EVENT_KINDS, type AgentEvent, type EventKind, type EventOf, type HealthCheckSummary, type Offer } from './events';
export { JOB_EFFECTS, type Effect, type EffectKind } from './effects';
export { TABLE, accepts, step, type Step } from './transitions';
export { RETRY_BASE_MS, RETRY_MAX_MS, declineReason, retryDelayMs } from './transition-rules';
export { MAX_STATE_FILE, STATE_FILE, StateStore, checkState, writeFileDurable } from './persist';
export { Runner, agentError, type RunnerOptions } from './runner';
export type { AgentPorts, BootFacts, FallbackFacts, HealthOutcome, PullProgressReport } from './ports';
export { isLogLevel, jsonLogger, type JsonLoggerOptions, type LogFields, type Logger } from './logger';
export { inWindow, rebootAllowedNow, rebootDelayMs, type RebootPolicy } from './reboot-policy';
export { TokenBucket, throttledClient } from './throttle';
export { httpDeltaSource, type DeltaStats } from './delta-source';
export { remoteOptions, syncRemote } from './remote-setup';
export {
  DEFAULT_BOOT_ID_FILE, DEFAULT_CMDLINE_FILE, bootView, bootedHint, createBackend, readBootId,
  type BackendChoice, type BootSources, type BootView,
} from './boot-view';
export { systemdNotifier, spawnSystemdNotify, type Notifier, type SpawnNotify } from './sd-notify';
export { startDaemon, type DaemonHandle, type DaemonOptions } from './daemon';
export { createSimulatedEnv, simulateBoot, type SimulateBootOptions, type SimulatedBoot, type SimulatedEnv } from './simulate-boot';
export { RUN_HELP, SIMULATED_REBOOT_EXIT, SIMULATE_BOOT_HELP, runCommand, simulateBootCommand, type CommandIo } from './commands';
