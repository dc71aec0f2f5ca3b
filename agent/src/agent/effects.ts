/**
 * What the agent asks the world to do: a closed union of effects that the
 * transition table returns and runner.ts executes, in order, after the new
 * state is on disk. Jobs (`check`, `pull`, `deploy`, `run-health`,
 * `rollback-deployment`) run in the background and answer with an event;
 * there is at most one job at a time and `cancel-job` drops the current one
 * (its answer is then never delivered). Everything else is quick.
 */
import type { EventBody, LogLevel } from '../channel/index';
import type { Target } from './states';

export type Effect =
  /** Publish the retained state document (built from the state by the runner). */
  | { kind: 'publish-state' }
  /** Publish one event on the device's event stream. */
  | { kind: 'publish'; event: EventBody }
  /** Acknowledge a command (an `ack` event). */
  | { kind: 'ack'; nonce: string; command: string; status: 'accepted' | 'done' | 'failed' | 'refused'; reason?: string; message?: string }
  /** A structured log line. */
  | { kind: 'log'; level: 'error' | 'warn' | 'info' | 'debug'; message: string; fields?: Record<string, string | number | boolean | null> }
  /** Job: poll the repository's summary now. */
  | { kind: 'check' }
  /** Job: pull the target (verified; resumes what an earlier attempt stored). */
  | { kind: 'pull'; target: Target }
  /** Job: stage the boot-loader trial and write the deployment (a no-op when it is already there). */
  | { kind: 'deploy'; target: Target }
  /** Job: run the health checks on the booted target and apply the verdict. */
  | { kind: 'run-health'; target: Target }
  /** Job: make the previous deployment the default (a commanded rollback). */
  | { kind: 'rollback-deployment' }
  /** Drop the current job; its result is ignored. */
  | { kind: 'cancel-job' }
  /** Remove a deployment written for a target that is not booted yet, and end its trial. */
  | { kind: 'discard-pending'; commit: string }
  /** Wait for the reboot policy (immediate: at once; maintenance window: when it opens; manual: never) and then raise `reboot-window`. */
  | { kind: 'await-reboot-window' }
  /** Reboot the device now. The state saying why is already on disk. */
  | { kind: 'reboot'; reason: string }
  /** Raise `timer` at `at` (ms since the epoch). */
  | { kind: 'schedule-retry'; at: number }
  /** Keep (or release) the deployment of `commit` through later deploys. */
  | { kind: 'pin-deployment'; commit: string; pinned: boolean }
  /** Forget that `commit` was rejected (an operator installs it explicitly). */
  | { kind: 'forget-rejected'; commit: string }
  /** Remember not to install `commit` again from an announcement (an operator rolled it back). */
  | { kind: 'reject-commit'; commit: string; reason: 'remote-command' }
  /** Change the log level, for `durationSeconds` when given. */
  | { kind: 'set-log-level'; level: LogLevel; durationSeconds?: number }
  /** Publish an inventory event (deployments, boot state, agent version). */
  | { kind: 'report-inventory' };

export type EffectKind = Effect['kind'];

/** Effects that start a background job answering with an event. */
export const JOB_EFFECTS: ReadonlySet<EffectKind> = new Set<EffectKind>(['check', 'pull', 'deploy', 'run-health', 'rollback-deployment']);
