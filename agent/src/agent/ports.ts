/**
 * What the runner needs from the world, as one interface: the device's
 * sysroot, boot loader, repository, health checks, channel and clock. The
 * daemon passes real adapters (device-ports.ts); tests pass fakes.
 */
import type { EventBody, LogLevel, StateReport } from '../channel/index';
import type { FallbackReason } from '../bootloader/index';
import type { HealthCheckSummary, Offer } from './events';
import type { Logger } from './logger';
import type { Target } from './states';

/** Facts of the running boot. */
export interface BootFacts {
  /** `/proc/sys/kernel/random/boot_id` (or the simulator's). */
  bootId: string;
  /** The commit of the booted deployment, or null when the system did not boot from this sysroot. */
  bootedCommit: string | null;
}

/** A boot-loader fallback found (and finished) at start. */
export interface FallbackFacts {
  from: string | null;
  to: string | null;
  reason: FallbackReason;
  /** Names of the required checks that failed the trial. */
  failed: string[];
  /** The failing checks with their output, for people. */
  detail?: string;
  /** When the fallback was detected (ms); the same fallback reported twice has the same time. */
  detectedAt?: number;
}

/** The verdict of one health run, already applied to the boot loader. */
export interface HealthOutcome {
  healthy: boolean;
  checks: HealthCheckSummary[];
  failed: string[];
  detail: string;
  /** The trial was marked bad; the next boot falls back. */
  rebootRequested: boolean;
}

/** A pull's progress, as the runner reports it. */
export interface PullProgressReport {
  phase: string;
  bytes: number;
  objectsDone: number;
  objectsTotal: number;
}

export interface AgentPorts {
  now(): number;
  boot(): Promise<BootFacts>;
  /**
   * Detects a fallback and finishes it (health/after-boot); null when the boot did not fall back.
   * `rebooted`: the boot id changed since the state was saved (or there is no saved state).
   */
  afterBoot(facts: BootFacts, rebooted: boolean): Promise<FallbackFacts | null>;
  /** Polls the repository now; an offer when the followed ref has a commit other than the running one. */
  check(signal: AbortSignal): Promise<Offer | null>;
  /** Pulls the target into the sysroot's repository (verified by the remote's trust policy). */
  pull(target: Target, signal: AbortSignal, onProgress: (p: PullProgressReport) => void): Promise<void>;
  /** Stages the boot-loader trial and writes the deployment; a no-op when it is already the next boot's default on trial. */
  deploy(target: Target, signal: AbortSignal): Promise<void>;
  /** Runs the health checks on the booted target and applies the verdict (mark good, or record, mark bad). */
  runHealth(target: Target): Promise<HealthOutcome>;
  /** Makes the previous deployment the default; returns the commits. */
  rollbackDeployment(): Promise<{ from: string; to: string }>;
  /** Removes the not-yet-booted deployment of `commit` and ends its trial. */
  discardPending(commit: string): Promise<void>;
  /** Reboots the device (or, simulated, ends the process). */
  reboot(reason: string): Promise<void>;
  /** Milliseconds until the reboot policy allows a reboot (0: now), or null when only a command may reboot. */
  rebootDelay(): number | null;
  pinDeployment(commit: string, pinned: boolean): Promise<void>;
  forgetRejected(commit: string): Promise<void>;
  rejectCommit(commit: string, reason: 'remote-command'): Promise<void>;
  setLogLevel(level: LogLevel, durationSeconds?: number): void;
  inventory(): Promise<Record<string, unknown>>;
  /** The device's place in the current rollout, for the state report. */
  rollout(): StateReport['rollout'];
  publishState(report: StateReport): Promise<boolean>;
  publishEvent(event: EventBody): Promise<boolean>;
  log: Logger;
}
