/**
 * What can happen to the agent: a closed union of events, each a plain
 * value. The daemon turns channel messages, finished jobs and timers into
 * events after doing the I/O that decides their facts (is the rollout wave
 * open, is the commit rejected, is there a previous deployment, may the
 * reboot policy reboot now), so that the transition table stays pure.
 * Every event carries `time` (ms since the epoch) for the records it
 * produces.
 */
import type { LogLevel } from '../channel/index';
import type { FallbackReason } from '../bootloader/index';
import type { AgentError, Target } from './states';

/** A health check as the events report it. */
export interface HealthCheckSummary {
  name: string;
  result: 'pass' | 'fail' | 'timeout' | 'skip';
  required: boolean;
  durationMs?: number;
  message?: string;
}

interface At {
  time: number;
}

/** An offer of a commit: from an announcement or a poll of the summary. */
export interface Offer {
  target: Target;
  /** The device's rollout wave is open (always true for a poll or a command). */
  waveOpen: boolean;
  /** The commit failed here before and was rejected (health/after-boot). */
  rejected: boolean;
}

export type AgentEvent = At & (
  /** The daemon started (after a fallback check). `rebooted`: the boot id differs from the one in the saved state. */
  | { kind: 'started'; bootedCommit: string | null; rebooted: boolean }
  /** The boot loader fell back: the previous boot of `from` failed. Delivered before `started`. */
  | { kind: 'fallback-detected'; from: string | null; to: string | null; reason: FallbackReason; failed: string[]; detail?: string }
  | ({ kind: 'announcement' } & Offer)
  | ({ kind: 'poll-hit' } & Offer)
  | { kind: 'cmd-check-now'; nonce: string }
  /** `target.commit` was resolved by the daemon (a ref's latest commit when only a ref was given). */
  | { kind: 'cmd-install'; nonce: string; target: Target }
  /** `previous`: the commit of the deployment a rollback would boot, or null when there is none. */
  | { kind: 'cmd-rollback'; nonce: string; reason?: string; previous: string | null }
  /** `allowed`: the reboot policy allows a reboot now (or `force` was given). */
  | { kind: 'cmd-reboot'; nonce: string; reason?: string; allowed: boolean }
  | { kind: 'cmd-pin'; nonce: string; commit?: string; reason?: string }
  | { kind: 'cmd-unpin'; nonce: string }
  | { kind: 'cmd-report-inventory'; nonce: string }
  | { kind: 'cmd-set-log-level'; nonce: string; level: LogLevel; durationSeconds?: number }
  | ({ kind: 'check-done'; found: Offer | null })
  | { kind: 'check-failed'; error: AgentError }
  | { kind: 'pull-done'; commit: string }
  | { kind: 'pull-failed'; error: AgentError }
  | { kind: 'deploy-done'; commit: string }
  | { kind: 'deploy-failed'; error: AgentError }
  /** The reboot policy allows the reboot now. */
  | { kind: 'reboot-window' }
  | { kind: 'health-pass'; commit: string; checks: HealthCheckSummary[] }
  /** `rebootRequested`: the trial was marked bad and the boot loader falls back at the next boot. */
  | { kind: 'health-fail'; commit: string; checks: HealthCheckSummary[]; failed: string[]; detail: string; rebootRequested: boolean }
  | { kind: 'rollback-done'; from: string; to: string }
  | { kind: 'rollback-failed'; error: AgentError }
  /** The retry timer of a failed attempt fired. */
  | { kind: 'timer' }
);

export type EventKind = AgentEvent['kind'];

/** Every event kind (tests iterate it). */
export const EVENT_KINDS: readonly EventKind[] = [
  'started', 'fallback-detected', 'announcement', 'poll-hit',
  'cmd-check-now', 'cmd-install', 'cmd-rollback', 'cmd-reboot', 'cmd-pin', 'cmd-unpin', 'cmd-report-inventory', 'cmd-set-log-level',
  'check-done', 'check-failed', 'pull-done', 'pull-failed', 'deploy-done', 'deploy-failed', 'reboot-window',
  'health-pass', 'health-fail', 'rollback-done', 'rollback-failed', 'timer',
];

/** The event of one kind. */
export type EventOf<K extends EventKind> = Extract<AgentEvent, { kind: K }>;
