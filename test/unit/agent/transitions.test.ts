/**
 * The transition table: every phase × event is either defined (and yields a
 * state that passes the state-file check) or throws ERR_AGENT_TRANSITION;
 * which phases accept each job's answer; and the update life cycle step by
 * step with its effects.
 */
import { strict as assert } from 'node:assert';
import { checkState } from '../../../agent/src/agent/persist';
import { EVENT_KINDS, type AgentEvent, type EventKind } from '../../../agent/src/agent/events';
import type { Effect } from '../../../agent/src/agent/effects';
import { PHASE_NAMES, type AgentState, type PhaseName } from '../../../agent/src/agent/states';
import { accepts, step } from '../../../agent/src/agent/transitions';
import { retryDelayMs } from '../../../agent/src/agent/transition-rules';
import { isCanopyError } from '../../../agent/src/core/errors';
import { C1, C2, C3, T0, sampleEvent, stateIn, target } from './fixtures';

const kinds = (effects: Effect[]): string[] => effects.map((e) => e.kind);
const acks = (effects: Effect[]): Array<{ command: string; status: string; reason?: string }> =>
  effects.flatMap((e) => (e.kind === 'ack' ? [{ command: e.command, status: e.status, ...(e.reason ? { reason: e.reason } : {}) }] : []));
const published = (effects: Effect[], kind: string): Array<Record<string, unknown>> =>
  effects.flatMap((e) => (e.kind === 'publish' && e.event.kind === kind ? [e.event as unknown as Record<string, unknown>] : []));

/** Where each job's answer (and the timers) may arrive; every other event is accepted in every phase. */
const ONLY_IN: Partial<Record<EventKind, PhaseName[]>> = {
  'check-done': ['checking'], 'check-failed': ['checking'],
  'pull-done': ['downloading'], 'pull-failed': ['downloading'],
  'deploy-done': ['deploying', 'staged'], 'deploy-failed': ['deploying', 'staged'],
  'reboot-window': ['staged'],
  'health-pass': ['verifying'], 'health-fail': ['verifying'],
  'rollback-done': ['rolling-back'], 'rollback-failed': ['rolling-back'],
  timer: ['failed'],
};

describe('agent/transitions', () => {
  it('defines or loudly refuses every phase × event, and every defined step yields a valid state', () => {
    let defined = 0;
    let refused = 0;
    for (const phase of PHASE_NAMES) {
      for (const kind of EVENT_KINDS) {
        const expected = ONLY_IN[kind]?.includes(phase) ?? !ONLY_IN[kind];
        assert.equal(accepts(phase, kind), expected, `${phase} × ${kind}`);
        const s = stateIn(phase);
        let r;
        try {
          r = step(s, sampleEvent(kind));
        } catch (e) {
          assert.ok(isCanopyError(e, 'ERR_AGENT_TRANSITION'), `${phase} × ${kind} threw ${(e as Error).message}`);
          assert.ok(!expected, `${phase} × ${kind} is in the table but threw: ${(e as Error).message}`);
          assert.match((e as Error).message, new RegExp(`event ${kind} in phase ${phase}`));
          refused++;
          continue;
        }
        defined++;
        checkState(JSON.parse(JSON.stringify(r.state)), `${phase} × ${kind}`);
        assert.ok(Array.isArray(r.effects));
        assert.deepEqual(JSON.parse(JSON.stringify(r.effects)), r.effects, 'effects are plain JSON');
      }
    }
    assert.equal(defined + refused, PHASE_NAMES.length * EVENT_KINDS.length);
    assert.ok(refused > 50 && defined > 120, `${defined} defined, ${refused} refused`);
  });

  it('a job answer that contradicts the phase is refused (a pull finishing for another commit)', () => {
    assert.throws(() => step(stateIn('downloading'), { kind: 'pull-done', time: T0, commit: C3 }), (e) => isCanopyError(e, 'ERR_AGENT_TRANSITION'));
    assert.throws(() => step(stateIn('failed', { phase: { name: 'failed', target: target(), error: { code: 'ERR_SIGNATURE_INVALID', message: 'x', retryable: false }, attempt: 0, retryAt: null } }), sampleEvent('timer')),
      (e) => isCanopyError(e, 'ERR_AGENT_TRANSITION'));
  });

  it('walks an update: offer, download, deploy, stage, reboot, verify, confirm', () => {
    let s: AgentState = stateIn('idle');
    const phaseOf = (): string => s.phase.name;
    const go = (e: AgentEvent): Effect[] => {
      const r = step(s, e);
      s = r.state;
      return r.effects;
    };
    const offer: AgentEvent = { kind: 'announcement', time: T0, target: target(C2), waveOpen: true, rejected: false };
    let fx = go(offer);
    assert.equal(phaseOf(), 'downloading');
    assert.deepEqual(kinds(fx), ['publish-state', 'publish', 'pull']);
    assert.equal(published(fx, 'progress')[0].phase, 'downloading');
    // The same offer again (the retained copy after a reconnect) changes nothing.
    assert.deepEqual(step(s, offer), { state: s, effects: [] });
    fx = go({ kind: 'pull-done', time: T0, commit: C2 });
    assert.equal(phaseOf(), 'deploying');
    assert.ok(kinds(fx).includes('deploy'));
    fx = go({ kind: 'deploy-done', time: T0, commit: C2 });
    assert.equal(phaseOf(), 'staged');
    assert.deepEqual(kinds(fx), ['publish-state', 'publish', 'await-reboot-window']);
    fx = go({ kind: 'reboot-window', time: T0 });
    assert.equal(phaseOf(), 'rebooting');
    assert.deepEqual(kinds(fx), ['publish-state', 'publish', 'reboot'], 'the state report goes out before the reboot');
    fx = go({ kind: 'started', time: T0 + 60_000, bootedCommit: C2, rebooted: true });
    assert.equal(phaseOf(), 'verifying');
    assert.equal(s.running?.commit, C2);
    assert.ok(kinds(fx).includes('run-health'));
    fx = go({ kind: 'health-pass', time: T0 + 70_000, commit: C2, checks: [{ name: '50-app', result: 'pass', required: true }] });
    assert.equal(phaseOf(), 'idle');
    assert.deepEqual(s.running, { commit: C2, ref: 'simos/stable', version: '2.0' });
    assert.deepEqual(s.lastHealth, { commit: C2, result: 'pass', time: new Date(T0 + 70_000).toISOString() });
    assert.equal(published(fx, 'health')[0].result, 'pass');
    assert.equal(published(fx, 'progress')[0].phase, 'confirmed');
  });

  it('a failed health check asks for the reboot only in rolling-back, and the fallback is reported with the check', () => {
    const r = step(stateIn('verifying'), sampleEvent('health-fail'));
    assert.equal(r.state.phase.name, 'rolling-back');
    assert.deepEqual(r.state.lastHealth?.failed, ['50-app']);
    assert.deepEqual(kinds(r.effects), ['publish-state', 'publish', 'publish', 'reboot']);
    const fb = step(r.state, { kind: 'fallback-detected', time: T0, from: C2, to: C1, reason: 'health-check', failed: ['50-app'], detail: '50-app exited with status 1: broken' });
    assert.equal(fb.state.phase.name, 'idle');
    assert.deepEqual(fb.state.lastRollback, { from: C2, to: C1, reason: 'health-failed', detail: '50-app exited with status 1: broken', time: new Date(T0).toISOString() });
    assert.deepEqual(published(fb.effects, 'rollback')[0], { kind: 'rollback', from: C2, to: C1, reason: 'health-failed', detail: '50-app exited with status 1: broken' });
    // Without a trial (confirmed meanwhile) nothing can fall back: keep running it, report the failure.
    const noTrial = step(stateIn('verifying'), { ...sampleEvent('health-fail'), rebootRequested: false } as AgentEvent);
    assert.equal(noTrial.state.phase.name, 'idle');
    assert.ok(!kinds(noTrial.effects).includes('reboot'));
  });

  it('declines offers for a pinned device, a closed wave, a rejected or the running commit', () => {
    const idle = stateIn('idle');
    const offer = (o: Partial<{ waveOpen: boolean; rejected: boolean; commit: string }>): AgentEvent => ({ kind: 'announcement', time: T0, target: target(o.commit ?? C3), waveOpen: o.waveOpen ?? true, rejected: o.rejected ?? false });
    for (const [why, s, e] of [
      ['closed wave', idle, offer({ waveOpen: false })],
      ['rejected', idle, offer({ rejected: true })],
      ['running', idle, offer({ commit: C1 })],
      ['pinned', stateIn('idle', { pinned: { commit: C1 } }), offer({})],
    ] as const) {
      const r = step(s, e);
      assert.equal(r.state.phase.name, 'idle', why);
      assert.deepEqual(kinds(r.effects), ['log'], why);
    }
  });

  it('a halted rollout or a channel pointing back stops a download and discards a staged deployment', () => {
    const halt = step(stateIn('downloading'), { kind: 'announcement', time: T0, target: target(C2), waveOpen: false, rejected: false });
    assert.equal(halt.state.phase.name, 'idle');
    assert.ok(kinds(halt.effects).includes('cancel-job'));
    const back = step(stateIn('staged'), { kind: 'announcement', time: T0, target: target(C1), waveOpen: true, rejected: false });
    assert.equal(back.state.phase.name, 'idle');
    assert.deepEqual(back.effects.find((e) => e.kind === 'discard-pending'), { kind: 'discard-pending', commit: C2 });
    const newer = step(stateIn('staged'), { kind: 'announcement', time: T0, target: target(C3), waveOpen: true, rejected: false });
    assert.equal(newer.state.phase.name, 'downloading');
    assert.ok(kinds(newer.effects).includes('cancel-job') && kinds(newer.effects).includes('pull'));
  });

  it('retries transient failures with a growing delay, holds permanent ones, and does not loop on a re-offer', () => {
    const r = step(stateIn('downloading'), { kind: 'pull-failed', time: T0, error: { code: 'ERR_NO_SPACE', message: 'full', retryable: true } });
    assert.equal(r.state.phase.name, 'failed');
    assert.ok(r.state.phase.name === 'failed' && r.state.phase.retryAt === T0 + retryDelayMs(0, C2));
    assert.deepEqual(r.effects.find((e) => e.kind === 'schedule-retry'), { kind: 'schedule-retry', at: T0 + retryDelayMs(0, C2) });
    assert.match(String(published(r.effects, 'progress')[0].message), /^ERR_NO_SPACE: full/);
    assert.equal(r.state.lastError?.code, 'ERR_NO_SPACE');
    const again = step(r.state, { kind: 'timer', time: T0 + 5000 });
    assert.ok(again.state.phase.name === 'downloading' && again.state.phase.attempt === 1);
    assert.ok(retryDelayMs(5, C2) > retryDelayMs(1, C2) && retryDelayMs(40, C2) <= 30 * 60_000);
    const perm = step(stateIn('downloading'), { kind: 'pull-failed', time: T0, error: { code: 'ERR_SIGNATURE_INVALID', message: 'bad', retryable: false } });
    assert.ok(perm.state.phase.name === 'failed' && perm.state.phase.retryAt === null);
    assert.ok(!kinds(perm.effects).includes('schedule-retry'));
    const reoffer = step(perm.state, { kind: 'announcement', time: T0, target: target(C2), waveOpen: true, rejected: false });
    assert.equal(reoffer.state.phase.name, 'failed');
    const other = step(perm.state, { kind: 'announcement', time: T0, target: target(C3), waveOpen: true, rejected: false });
    assert.equal(other.state.phase.name, 'downloading');
  });

  it('acknowledges commands: install accepted then done, busy refusals, rollback, reboot under the policy', () => {
    const inst = step(stateIn('idle'), sampleEvent('cmd-install'));
    assert.deepEqual(acks(inst.effects), [{ command: 'install', status: 'accepted' }]);
    assert.ok(kinds(inst.effects).includes('forget-rejected'));
    assert.equal(inst.state.phase.name === 'downloading' && inst.state.phase.target.nonce, 'nonce-install-0123456789');
    const confirmed = step({ ...inst.state, phase: { name: 'verifying', target: (inst.state.phase as { target: ReturnType<typeof target> }).target } },
      { kind: 'health-pass', time: T0, commit: C3, checks: [] });
    assert.deepEqual(acks(confirmed.effects), [{ command: 'install', status: 'done' }]);
    for (const p of ['deploying', 'rebooting', 'verifying', 'rolling-back'] as const) {
      assert.deepEqual(acks(step(stateIn(p), sampleEvent('cmd-install')).effects), [{ command: 'install', status: 'refused', reason: 'busy' }], p);
    }
    assert.deepEqual(acks(step(stateIn('idle', { pinned: { commit: C1 } }), sampleEvent('cmd-install')).effects), [{ command: 'install', status: 'refused', reason: 'pinned' }]);
    const rb = step(stateIn('idle'), sampleEvent('cmd-rollback'));
    assert.ok(rb.state.phase.name === 'rolling-back' && !rb.state.phase.switched);
    assert.ok(kinds(rb.effects).includes('rollback-deployment'));
    const switched = step(rb.state, { kind: 'rollback-done', time: T0, from: C1, to: C3 });
    assert.ok(kinds(switched.effects).includes('reboot'));
    const after = step(switched.state, { kind: 'started', time: T0, bootedCommit: C3, rebooted: true });
    assert.equal(after.state.phase.name, 'idle');
    assert.equal(after.state.lastRollback?.reason, 'remote-command');
    assert.deepEqual(acks(after.effects), [{ command: 'rollback', status: 'done' }]);
    // The commit an operator rolled back is rejected, so a retained announcement cannot bring it back.
    assert.deepEqual(after.effects.filter((e) => e.kind === 'reject-commit'), [{ kind: 'reject-commit', commit: C1, reason: 'remote-command' }]);
    assert.deepEqual(acks(step(stateIn('idle'), { ...sampleEvent('cmd-rollback'), previous: null } as AgentEvent).effects), [{ command: 'rollback', status: 'refused', reason: 'no-previous-deployment' }]);
    assert.deepEqual(acks(step(stateIn('staged'), { ...sampleEvent('cmd-reboot'), allowed: false } as AgentEvent).effects), [{ command: 'reboot', status: 'refused', reason: 'maintenance-window' }]);
    const rebootStaged = step(stateIn('staged'), sampleEvent('cmd-reboot'));
    assert.equal(rebootStaged.state.phase.name, 'rebooting');
    assert.ok(kinds(rebootStaged.effects).includes('reboot'));
  });

  it('pins only the running commit, and unpin releases the deployment', () => {
    const pinned = step(stateIn('idle'), sampleEvent('cmd-pin'));
    assert.deepEqual(pinned.state.pinned, { commit: C1 });
    assert.deepEqual(pinned.effects.find((e) => e.kind === 'pin-deployment'), { kind: 'pin-deployment', commit: C1, pinned: true });
    assert.deepEqual(acks(step(stateIn('idle'), { ...sampleEvent('cmd-pin'), commit: C3 } as AgentEvent).effects), [{ command: 'pin', status: 'refused', reason: 'not-running' }]);
    const unpinned = step(pinned.state, sampleEvent('cmd-unpin'));
    assert.equal(unpinned.state.pinned, null);
    assert.deepEqual(unpinned.effects.find((e) => e.kind === 'pin-deployment'), { kind: 'pin-deployment', commit: C1, pinned: false });
  });

  it('resumes after a restart: download again, re-verify a staged deployment, verify after a reboot, ask again for a reboot that did not happen', () => {
    const started = (bootedCommit: string, rebooted: boolean): AgentEvent => ({ kind: 'started', time: T0, bootedCommit, rebooted });
    assert.ok(kinds(step(stateIn('downloading'), started(C1, false)).effects).includes('pull'));
    assert.ok(kinds(step(stateIn('deploying'), started(C1, false)).effects).includes('deploy'));
    const staged = step(stateIn('staged'), started(C1, false));
    assert.equal(staged.state.phase.name, 'staged');
    assert.ok(kinds(staged.effects).includes('deploy'), 'the staged deployment is verified again (deploy is a no-op when it is there)');
    assert.equal(step(stateIn('staged'), started(C2, true)).state.phase.name, 'verifying');
    // A staged deployment lost in a power cut (booted the old one, nothing recorded): deploy again, a bounded number of times.
    const lost = step(stateIn('rebooting'), started(C1, true));
    assert.ok(lost.state.phase.name === 'deploying' && lost.state.phase.target.deployAttempts === 1);
    const hopeless = step(stateIn('rebooting', { phase: { name: 'rebooting', target: target(C2, { deployAttempts: 3 }), reason: 'x' } }), started(C1, true));
    assert.ok(hopeless.state.phase.name === 'failed' && hopeless.state.phase.error.code === 'ERR_NOT_BOOTED');
    assert.deepEqual(kinds(step(stateIn('rebooting'), started(C1, false)).effects), ['log', 'reboot']);
    assert.ok(kinds(step(stateIn('verifying'), started(C2, true)).effects).includes('run-health'));
    assert.ok(kinds(step(stateIn('rolling-back'), started(C2, false)).effects).includes('reboot'));
    assert.ok(kinds(step(stateIn('failed'), started(C1, false)).effects).includes('schedule-retry'));
  });
});
