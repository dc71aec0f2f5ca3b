/**
 * The building blocks of the transition table (transitions.ts): results,
 * acknowledgements, and the rules several phases share: taking or leaving
 * an offer, starting a download, failing with or without a retry, finishing
 * a rollback, and the commands that act the same in every phase. Pure.
 */
import type { LogLevel } from '../channel/index';
import type { Effect } from './effects';
import type { AgentEvent, EventKind, EventOf, Offer } from './events';
import type { AgentError, AgentState, Phase, RollbackReason, Target } from './states';
import { rollbackReasonOf } from './states';

/** What a transition yields: the next state and the effects to run once it is saved. */
export interface Step {
  state: AgentState;
  effects: Effect[];
}

type Handler<K extends EventKind> = (s: AgentState, e: EventOf<K>) => Step;

export const iso = (ms: number): string => new Date(ms).toISOString();

/** A move to `phase`; the state report goes out first (before a reboot can cut the connection). */
export function go(s: AgentState, phase: Phase, ...effects: Effect[]): Step {
  return { state: { ...s, phase }, effects: [{ kind: 'publish-state' }, ...effects.filter((e) => e.kind !== 'publish-state')] };
}

export function stay(s: AgentState, ...effects: Effect[]): Step {
  return { state: s, effects };
}

export function ack(nonce: string, command: string, status: 'accepted' | 'done' | 'failed' | 'refused', reason?: string, message?: string): Effect {
  return { kind: 'ack', nonce, command, status, ...(reason ? { reason } : {}), ...(message ? { message: message.slice(0, 2048) } : {}) };
}

export function log(level: 'error' | 'warn' | 'info' | 'debug', message: string): Effect {
  return { kind: 'log', level, message };
}

/** A `progress` event marking a step of an update. */
export function progress(phase: string, commit: string, message?: string): Effect {
  return { kind: 'publish', event: { kind: 'progress', phase, commit, ...(message ? { message: message.slice(0, 2048) } : {}) } };
}

export function busy(nonce: string, command: string, s: AgentState): Effect {
  return ack(nonce, command, 'refused', 'busy', `the agent is ${s.phase.name}`);
}

/** Longest wait between retries of a failed update, ms. */
export const RETRY_MAX_MS = 30 * 60_000;
/** First wait, ms. */
export const RETRY_BASE_MS = 2_000;

/** The wait before retry `attempt` (0 first): doubling from 2 s to 30 min, with up to 25 % less drawn from the commit so a fleet spreads out. */
export function retryDelayMs(attempt: number, commit: string): number {
  const cap = Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** Math.min(attempt, 20));
  const spread = (parseInt(commit.slice(0, 4), 16) || 0) / 0xffff;
  return Math.round(cap * (1 - 0.25 * spread));
}

/**
 * An attempt failed. With a target: `failed`, retried after a backoff when
 * the error is transient, else held until a new offer or command. Without
 * one: back to `idle` with the error recorded.
 */
export function failWith(s: AgentState, target: Target | null, error: AgentError, attempt: number, time: number, ackFor?: { nonce: string; command: string }): Step {
  const lastError = { ...error, ...(target ? { commit: target.commit } : {}), time: iso(time) };
  const report: Effect[] = [log(error.retryable ? 'warn' : 'error', `${error.code}: ${error.message}`)];
  if (!target) {
    return go({ ...s, lastError }, { name: 'idle' }, ...report, ...(ackFor ? [ack(ackFor.nonce, ackFor.command, 'failed', 'error', `${error.code}: ${error.message}`)] : []));
  }
  report.push(progress('failed', target.commit, `${error.code}: ${error.message}`));
  if (error.retryable) {
    const retryAt = time + retryDelayMs(attempt, target.commit);
    return go({ ...s, lastError }, { name: 'failed', target, error, attempt, retryAt }, ...report, { kind: 'schedule-retry', at: retryAt });
  }
  const acked = target.nonce ? [ack(target.nonce, 'install', 'failed', 'error', `${error.code}: ${error.message}`)] : [];
  return go({ ...s, lastError }, { name: 'failed', target: { ...target, nonce: undefined }, error, attempt, retryAt: null }, ...report, ...acked);
}

/** Starts pulling `target` (cancelling the current job first when `cancel`). */
export function startDownload(s: AgentState, target: Target, cancel = false): Step {
  const clean: Target = { ...target };
  delete clean.deployAttempts;
  return go(s, { name: 'downloading', target: clean, attempt: 0 }, ...(cancel ? [{ kind: 'cancel-job' } as const] : []),
    progress('downloading', target.commit, target.version ? `version ${target.version}` : undefined), { kind: 'pull', target: clean });
}

/** Why an offer is not taken, or null when it is. */
export function declineReason(s: AgentState, o: Offer): string | null {
  if (s.pinned) return `pinned to ${s.pinned.commit}`;
  if (o.rejected) return `${o.target.commit} failed on this device before (rejected until an install command)`;
  if (s.running?.commit === o.target.commit) return `${o.target.commit} is already running`;
  if (!o.waveOpen) return 'the rollout wave of this device is not open';
  return null;
}

/**
 * An announcement or a poll result. Taken in idle, checking and failed
 * phases; during a download or while staged a different wanted commit
 * replaces the current one, and an offer that withdraws the current target
 * (its wave closed, or the channel points back at the running commit)
 * cancels it.
 */
export function offer(s: AgentState, e: Offer & { time: number }, source: 'announcement' | 'poll'): Step {
  const target: Target = { ...e.target, source };
  const why = declineReason(s, e);
  const p = s.phase;
  const current = p.name === 'downloading' || p.name === 'staged' || p.name === 'failed' ? p.target : null;
  if (current && current.commit === target.commit) {
    if (p.name === 'failed' && why === null && p.retryAt === null) return stay(s, log('debug', `${target.commit} failed with ${p.error.code}; offered again, not retried`));
    if (why === null || p.name === 'failed') return stay(s);
    // The same commit, but no longer for this device: stop.
    const drop: Effect[] = p.name === 'staged' ? [{ kind: 'cancel-job' }, { kind: 'discard-pending', commit: current.commit }] : [{ kind: 'cancel-job' }];
    return go(s, { name: 'idle' }, ...drop, log('info', `stopped ${current.commit}: ${why}`), ...(current.nonce ? [ack(current.nonce, 'install', 'failed', 'withdrawn', why)] : []));
  }
  if (why !== null) {
    if (current && p.name !== 'failed' && s.running?.commit === target.commit) {
      const drop: Effect[] = p.name === 'staged' ? [{ kind: 'cancel-job' }, { kind: 'discard-pending', commit: current.commit }] : [{ kind: 'cancel-job' }];
      return go(s, { name: 'idle' }, ...drop, log('info', `the channel points back at the running ${target.commit}; stopped ${current.commit}`));
    }
    return stay(s, log('info', `not taking ${target.commit}: ${why}`));
  }
  if (current?.nonce) return stay(s, log('info', `not taking ${target.commit}: an install command asked for ${current.commit}`));
  const cancel = p.name === 'downloading' || p.name === 'staged';
  return startDownload(s, target, cancel);
}

/** A boot-loader fallback (or the reboot of a commanded rollback): back to idle, reported with its reason. */
export function fallback(s: AgentState, e: EventOf<'fallback-detected'>, override?: RollbackReason): Step {
  const p = s.phase;
  const target = 'target' in p ? p.target : null;
  const from = e.from ?? (p.name === 'rolling-back' ? p.from : target?.commit ?? null);
  const to = e.to ?? s.running?.commit ?? null;
  const reason = override ?? rollbackReasonOf(e.reason);
  const detail = (e.detail ?? (p.name === 'rolling-back' ? p.detail : undefined))?.slice(0, 2048);
  const time = iso(e.time);
  const running = to ? (s.running?.commit === to ? s.running : { commit: to }) : s.running;
  const state: AgentState = {
    ...s, running,
    lastRollback: from && to ? { from, to, reason, ...(detail ? { detail } : {}), time } : s.lastRollback,
    lastHealth: e.reason === 'health-check' && from && !override ? { commit: from, result: 'fail', time, failed: e.failed } : s.lastHealth,
  };
  const effects: Effect[] = [{ kind: 'cancel-job' }];
  if (from && to) effects.push({ kind: 'publish', event: { kind: 'rollback', from, to, reason, ...(detail ? { detail } : {}) } });
  // An operator rolled this commit back: a retained announcement must not bring
  // it back; an install command naming it forgets the rejection.
  if (from && p.name === 'rolling-back' && p.reason === 'remote-command') effects.push({ kind: 'reject-commit', commit: from, reason: 'remote-command' });
  effects.push(log('warn', `rolled back from ${from ?? 'an unknown commit'} to ${to ?? 'an unknown commit'}: ${reason}${detail ? ` (${detail.split('\n')[0]})` : ''}`));
  const nonce = p.name === 'rolling-back' ? p.nonce : target?.nonce;
  if (nonce) {
    effects.push(p.name === 'rolling-back' && p.reason === 'remote-command'
      ? ack(nonce, 'rollback', 'done')
      : ack(nonce, 'install', 'failed', reason, detail));
  }
  return go(state, { name: 'idle' }, ...effects);
}

/** A commanded rollback from a phase with nothing booted on trial. */
export function startRollback(s: AgentState, e: EventOf<'cmd-rollback'>, cancel = false): Step {
  if (!s.running || !e.previous) return stay(s, ack(e.nonce, 'rollback', 'refused', 'no-previous-deployment', 'there is no previous deployment to return to'));
  if (e.previous === s.running.commit) return stay(s, ack(e.nonce, 'rollback', 'refused', 'no-previous-deployment', `the previous deployment is also ${e.previous}`));
  return go(s, { name: 'rolling-back', from: s.running.commit, to: e.previous, reason: 'remote-command', switched: false, nonce: e.nonce, ...(e.reason ? { detail: e.reason } : {}) },
    ...(cancel ? [{ kind: 'cancel-job' } as const] : []), ack(e.nonce, 'rollback', 'accepted'), progress('rolling-back', s.running.commit), { kind: 'rollback-deployment' });
}

/** A reboot command with nothing staged. */
export function rebootNow(s: AgentState, e: EventOf<'cmd-reboot'>, cancel = false): Step {
  if (!e.allowed) return stay(s, ack(e.nonce, 'reboot', 'refused', 'maintenance-window', 'outside the maintenance window (force overrides it)'));
  const reason = e.reason ?? 'reboot command';
  return go(s, { name: 'rebooting', target: null, reason, nonce: e.nonce }, ...(cancel ? [{ kind: 'cancel-job' } as const] : []),
    ack(e.nonce, 'reboot', 'accepted'), { kind: 'reboot', reason });
}

const setLevel: Handler<'cmd-set-log-level'> = (s, e) => stay(s,
  { kind: 'set-log-level', level: e.level as LogLevel, ...(e.durationSeconds !== undefined ? { durationSeconds: e.durationSeconds } : {}) }, ack(e.nonce, 'set-log-level', 'done'));

/** Events every phase handles the same way. */
export const alwaysRows: { [K in 'fallback-detected' | 'cmd-report-inventory' | 'cmd-set-log-level' | 'cmd-unpin']: Handler<K> } = {
  'fallback-detected': (s, e) => fallback(s, e),
  'cmd-report-inventory': (s, e) => stay(s, { kind: 'report-inventory' }, { kind: 'publish-state' }, ack(e.nonce, 'report-inventory', 'done')),
  'cmd-set-log-level': setLevel,
  'cmd-unpin': (s, e) => {
    if (!s.pinned) return stay(s, ack(e.nonce, 'unpin', 'done', 'not-pinned'));
    return { state: { ...s, pinned: null }, effects: [{ kind: 'pin-deployment', commit: s.pinned.commit, pinned: false }, ack(e.nonce, 'unpin', 'done'), { kind: 'publish-state' }] };
  },
};

/** Commands refused while a deploy, reboot, health run or rollback must not be disturbed. */
export const refuseBusyCommands: { [K in 'cmd-check-now' | 'cmd-install' | 'cmd-rollback' | 'cmd-reboot' | 'cmd-pin']: Handler<K> } = {
  'cmd-check-now': (s, e) => stay(s, busy(e.nonce, 'check-now', s)),
  'cmd-install': (s, e) => stay(s, busy(e.nonce, 'install', s)),
  'cmd-rollback': (s, e) => stay(s, busy(e.nonce, 'rollback', s)),
  'cmd-reboot': (s, e) => stay(s, busy(e.nonce, 'reboot', s)),
  'cmd-pin': (s, e) => stay(s, busy(e.nonce, 'pin', s)),
};

export type { AgentEvent };
