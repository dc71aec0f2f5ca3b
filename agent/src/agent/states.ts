/**
 * The agent's states: what the daemon is doing (the *phase*, a closed union)
 * and what it knows that must survive a reboot (running commit, pin, last
 * health verdict, last rollback, last error). The whole value is what
 * persist.ts writes to disk before any effect that a reboot or a power cut
 * can interrupt, so every field is plain JSON. Pure.
 *
 * Phases, in the order an update walks them:
 *
 * | phase | meaning | left by |
 * | --- | --- | --- |
 * | `idle` | the running commit is confirmed; waiting for announcements, polls, commands | an offer, a command |
 * | `checking` | asking the repository's summary (a `check-now` command) | check-done / check-failed |
 * | `downloading` | pulling the target commit (verified, resumable) | pull-done / pull-failed |
 * | `deploying` | boot-loader trial staged, deployment being written | deploy-done / deploy-failed |
 * | `staged` | the new deployment is the next boot's default; waiting for the reboot policy | reboot-window, a reboot command |
 * | `rebooting` | a reboot was asked for; the next start tells whether it happened | started |
 * | `verifying` | booted into the target on trial; health checks decide | health-pass / health-fail |
 * | `rolling-back` | returning to the previous deployment (failed health, or a command) | started after the reboot, fallback-detected |
 * | `failed` | the last attempt failed; retried later when the error is transient | timer, a new offer or command |
 *
 * "Confirmed" is not a phase of its own: a passed health check makes the
 * target the running commit and returns to `idle`, reporting `lastHealth`.
 */
import type { FallbackReason } from '../bootloader/index';

/** Where an update came from. */
export type TargetSource = 'announcement' | 'poll' | 'command';

/** The commit an update works towards. */
export interface Target {
  commit: string;
  /** The OSTree ref on the remote (the deployment's origin is `<remote>:<ref>`). */
  ref: string;
  version?: string;
  source: TargetSource;
  /** The nonce of the `install` or `check-now` command that asked for it: acknowledged `done`/`failed` at the end. */
  nonce?: string;
  /** May move the ref to an older commit: an operator named this commit in a signed message. */
  allowDowngrade?: boolean;
  /** Deploy attempts whose reboot did not bring the target up (a staged deployment lost by a power cut). */
  deployAttempts?: number;
}

/** An error as the state keeps it (JSON-safe). */
export interface AgentError {
  code: string;
  message: string;
  /** A later attempt may succeed (network, server, full disk). */
  retryable: boolean;
}

export type Phase =
  | { name: 'idle' }
  | { name: 'checking'; nonce?: string }
  | { name: 'downloading'; target: Target; attempt: number }
  | { name: 'deploying'; target: Target; attempt: number }
  | { name: 'staged'; target: Target }
  | { name: 'rebooting'; target: Target | null; reason: string; nonce?: string }
  | { name: 'verifying'; target: Target }
  | {
    name: 'rolling-back';
    from: string;
    to: string | null;
    reason: RollbackReason;
    /** The entries already list `to` first (a commanded rollback); only the reboot is left. */
    switched: boolean;
    detail?: string;
    nonce?: string;
  }
  | { name: 'failed'; target: Target; error: AgentError; attempt: number; retryAt: number | null };

export type PhaseName = Phase['name'];

/** Every phase name, in walk order (tests iterate it). */
export const PHASE_NAMES: readonly PhaseName[] = [
  'idle', 'checking', 'downloading', 'deploying', 'staged', 'rebooting', 'verifying', 'rolling-back', 'failed',
];

/** Why the device went back to an earlier commit (a protocol `reason` word). */
export type RollbackReason = 'health-failed' | 'tries-exhausted' | 'boot-failed' | 'remote-command';

/** The protocol reason for a boot-loader fallback. */
export function rollbackReasonOf(r: FallbackReason): RollbackReason {
  return r === 'health-check' ? 'health-failed' : r === 'tries-exhausted' ? 'tries-exhausted' : 'boot-failed';
}

export interface RunningCommit {
  commit: string;
  ref?: string;
  version?: string;
}

export interface LastHealth {
  commit: string;
  result: 'pass' | 'fail';
  time: string;
  failed?: string[];
}

export interface LastRollback {
  from: string;
  to: string;
  reason: string;
  detail?: string;
  time: string;
}

/** Everything the agent persists. */
export interface AgentState {
  v: 1;
  phase: Phase;
  running: RunningCommit | null;
  pinned: { commit: string; reason?: string } | null;
  lastHealth: LastHealth | null;
  lastRollback: LastRollback | null;
  lastError: (AgentError & { commit?: string; time: string }) | null;
  /** The boot id of the boot in which this state was written (the runner fills it in). */
  bootId: string | null;
}

/** The state of a device the agent has never run on. */
export function initialState(): AgentState {
  return { v: 1, phase: { name: 'idle' }, running: null, pinned: null, lastHealth: null, lastRollback: null, lastError: null, bootId: null };
}

/** The target a phase works towards, if any. */
export function targetOf(p: Phase): Target | null {
  switch (p.name) {
    case 'downloading':
    case 'deploying':
    case 'staged':
    case 'verifying':
    case 'failed':
      return p.target;
    case 'rebooting':
      return p.target;
    default:
      return null;
  }
}

/** The `pending` field of the state report: what is in progress, with a protocol phase word. */
export function pendingOf(p: Phase): { commit: string; version?: string; phase: string } | null {
  const t = targetOf(p);
  if (!t) return null;
  const phase = p.name === 'verifying' ? 'trial' : p.name;
  return { commit: t.commit, ...(t.version ? { version: t.version } : {}), phase };
}
