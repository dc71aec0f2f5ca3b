/**
 * Shared values for the agent's unit tests: commits, a sample state per
 * phase and a sample event per kind, so the table can be checked
 * exhaustively.
 */
import type { AgentEvent, EventKind } from '../../../agent/src/agent/events';
import { initialState, type AgentState, type Phase, type PhaseName, type Target } from '../../../agent/src/agent/states';

export const C1 = '1'.repeat(64);
export const C2 = '2'.repeat(64);
export const C3 = '3'.repeat(64);
export const T0 = Date.UTC(2025, 5, 1, 12, 0, 0);

export const target = (commit = C2, extra: Partial<Target> = {}): Target => ({ commit, ref: 'simos/stable', source: 'announcement', version: '2.0', ...extra });

/** A state in `phase`, running C1. */
export function stateIn(name: PhaseName, extra: Partial<AgentState> = {}): AgentState {
  const t = target();
  const phases: Record<PhaseName, Phase> = {
    idle: { name: 'idle' },
    checking: { name: 'checking', nonce: 'check-nonce-0123456789' },
    downloading: { name: 'downloading', target: t, attempt: 0 },
    deploying: { name: 'deploying', target: t, attempt: 0 },
    staged: { name: 'staged', target: t },
    rebooting: { name: 'rebooting', target: t, reason: 'install' },
    verifying: { name: 'verifying', target: t },
    'rolling-back': { name: 'rolling-back', from: C2, to: C1, reason: 'health-failed', switched: true, detail: 'check 50-app failed' },
    failed: { name: 'failed', target: t, error: { code: 'ERR_NETWORK', message: 'reset', retryable: true }, attempt: 1, retryAt: T0 + 4000 },
  };
  return { ...initialState(), running: { commit: C1, ref: 'simos/stable' }, bootId: 'boot-1', phase: phases[name], ...extra };
}

/** A sample event of each kind (consistent with {@link stateIn}'s target). */
export function sampleEvent(kind: EventKind): AgentEvent {
  const time = T0;
  const offer = { target: target(C3), waveOpen: true, rejected: false };
  const samples: { [K in EventKind]: Extract<AgentEvent, { kind: K }> } = {
    started: { kind: 'started', time, bootedCommit: C1, rebooted: false },
    'fallback-detected': { kind: 'fallback-detected', time, from: C2, to: C1, reason: 'health-check', failed: ['50-app'], detail: '50-app exited with status 1: broken' },
    announcement: { kind: 'announcement', time, ...offer },
    'poll-hit': { kind: 'poll-hit', time, ...offer, target: target(C3, { source: 'poll' }) },
    'cmd-check-now': { kind: 'cmd-check-now', time, nonce: 'nonce-check-0123456789' },
    'cmd-install': { kind: 'cmd-install', time, nonce: 'nonce-install-0123456789', target: target(C3, { source: 'command', allowDowngrade: true }) },
    'cmd-rollback': { kind: 'cmd-rollback', time, nonce: 'nonce-rollback-0123456789', previous: C3 },
    'cmd-reboot': { kind: 'cmd-reboot', time, nonce: 'nonce-reboot-0123456789', allowed: true },
    'cmd-pin': { kind: 'cmd-pin', time, nonce: 'nonce-pin-0123456789' },
    'cmd-unpin': { kind: 'cmd-unpin', time, nonce: 'nonce-unpin-0123456789' },
    'cmd-report-inventory': { kind: 'cmd-report-inventory', time, nonce: 'nonce-inventory-0123456789' },
    'cmd-set-log-level': { kind: 'cmd-set-log-level', time, nonce: 'nonce-level-0123456789', level: 'debug', durationSeconds: 60 },
    'check-done': { kind: 'check-done', time, found: null },
    'check-failed': { kind: 'check-failed', time, error: { code: 'ERR_NETWORK', message: 'down', retryable: true } },
    'pull-done': { kind: 'pull-done', time, commit: C2 },
    'pull-failed': { kind: 'pull-failed', time, error: { code: 'ERR_NO_SPACE', message: 'disk full', retryable: true } },
    'deploy-done': { kind: 'deploy-done', time, commit: C2 },
    'deploy-failed': { kind: 'deploy-failed', time, error: { code: 'ERR_KERNEL_NOT_FOUND', message: 'no kernel', retryable: false } },
    'reboot-window': { kind: 'reboot-window', time },
    'health-pass': { kind: 'health-pass', time, commit: C2, checks: [{ name: '50-app', result: 'pass', required: true }] },
    'health-fail': { kind: 'health-fail', time, commit: C2, checks: [{ name: '50-app', result: 'fail', required: true }], failed: ['50-app'], detail: '50-app exited with status 1', rebootRequested: true },
    'rollback-done': { kind: 'rollback-done', time, from: C1, to: C3 },
    'rollback-failed': { kind: 'rollback-failed', time, error: { code: 'ERR_DEPLOYMENT_NOT_FOUND', message: 'none', retryable: false } },
    timer: { kind: 'timer', time },
  };
  return samples[kind];
}
