/**
 * The runner with fake ports: the state is on disk before any effect runs
 * (checked from inside the reboot port), resume after a restart in each
 * phase, a fallback found at start, a bad state file kept aside, answers of
 * cancelled jobs dropped, errors classified, and throttled progress.
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EventBody, StateReport } from '../../../agent/src/channel/index';
import { StateStore } from '../../../agent/src/agent/persist';
import type { AgentPorts, FallbackFacts, HealthOutcome } from '../../../agent/src/agent/ports';
import { jsonLogger } from '../../../agent/src/agent/logger';
import { Runner, agentError } from '../../../agent/src/agent/runner';
import type { AgentState, Target } from '../../../agent/src/agent/states';
import { CanopyError } from '../../../agent/src/core/errors';
import { C1, C2, T0, stateIn, target } from './fixtures';

interface Fake {
  ports: AgentPorts;
  calls: string[];
  events: EventBody[];
  states: StateReport[];
  savedAtReboot: AgentState[];
  logs: Array<{ level: string; msg: string }>;
  set(p: Partial<AgentPorts>): void;
}

function fakePorts(dir: string, boot: { bootId: string; bootedCommit: string | null }, fallback: FallbackFacts | null = null): Fake {
  const calls: string[] = [];
  const events: EventBody[] = [];
  const states: StateReport[] = [];
  const savedAtReboot: AgentState[] = [];
  const logs: Array<{ level: string; msg: string }> = [];
  const health: HealthOutcome = { healthy: true, checks: [{ name: '50-app', result: 'pass', required: true }], failed: [], detail: '', rebootRequested: false };
  const ports: AgentPorts = {
    now: () => T0,
    boot: async () => boot,
    afterBoot: async () => fallback,
    check: async () => null,
    pull: async (t: Target) => { calls.push(`pull ${t.commit}`); },
    deploy: async (t: Target) => { calls.push(`deploy ${t.commit}`); },
    runHealth: async (t: Target) => { calls.push(`health ${t.commit}`); return health; },
    rollbackDeployment: async () => { calls.push('rollback'); return { from: C1, to: C2 }; },
    discardPending: async (c) => { calls.push(`discard ${c}`); },
    reboot: async (reason) => {
      calls.push(`reboot ${reason}`);
      savedAtReboot.push(JSON.parse(readFileSync(join(dir, 'agent-state.json'), 'utf8')));
    },
    rebootDelay: () => 0,
    pinDeployment: async (c, p) => { calls.push(`pin ${c} ${p}`); },
    forgetRejected: async (c) => { calls.push(`forget ${c}`); },
    rejectCommit: async (c, r) => { calls.push(`reject ${c} ${r}`); },
    setLogLevel: () => undefined,
    inventory: async () => ({ deployments: [] }),
    rollout: () => null,
    publishState: async (s) => { states.push(s); return true; },
    publishEvent: async (e) => { events.push(e); return true; },
    log: jsonLogger({ level: 'debug', write: (l) => { const j = JSON.parse(l); logs.push({ level: j.level, msg: j.msg }); } }),
  };
  return { ports, calls, events, states, savedAtReboot, logs, set: (p) => Object.assign(ports, p) };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until(what: string, f: () => boolean, ms = 3000): Promise<void> {
  const t = Date.now();
  while (!f()) {
    if (Date.now() - t > ms) throw new Error(`timed out: ${what}`);
    await sleep(5);
  }
}

describe('agent/runner', () => {
  let dir = '';
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'canopy-runner-')); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const save = (s: AgentState): void => writeFileSync(join(dir, 'agent-state.json'), JSON.stringify(s));

  it('runs an update to the reboot, with the rebooting state on disk before the reboot effect', async () => {
    const f = fakePorts(dir, { bootId: 'boot-1', bootedCommit: C1 });
    const r = new Runner(new StateStore(dir), f.ports);
    await r.start();
    assert.equal(r.state.phase.name, 'idle');
    assert.equal(r.state.bootId, 'boot-1');
    r.dispatch({ kind: 'announcement', time: T0, target: target(C2), waveOpen: true, rejected: false });
    await until('the reboot', () => f.calls.some((c) => c.startsWith('reboot')));
    assert.deepEqual(f.calls, [`pull ${C2}`, `deploy ${C2}`, `reboot install ${C2}`]);
    assert.equal(f.savedAtReboot[0].phase.name, 'rebooting', 'saved before the effect ran');
    assert.deepEqual(f.events.filter((e) => e.kind === 'progress').map((e) => (e as { phase: string }).phase), ['downloading', 'deploying', 'staged', 'rebooting']);
    assert.equal(f.states[f.states.length - 1].phase, 'rebooting');
    assert.deepEqual(f.states[f.states.length - 1].pending, { commit: C2, version: '2.0', phase: 'rebooting' });
    r.stop();
  });

  it('after the reboot (new boot id) verifies, confirms and reports the new running commit', async () => {
    save(stateIn('rebooting'));
    const f = fakePorts(dir, { bootId: 'boot-2', bootedCommit: C2 });
    const r = new Runner(new StateStore(dir), f.ports);
    await r.start();
    await until('idle', () => r.state.phase.name === 'idle');
    assert.deepEqual(f.calls, [`health ${C2}`]);
    assert.equal(r.state.running?.commit, C2);
    const h = f.events.find((e) => e.kind === 'health');
    assert.deepEqual(h, { kind: 'health', commit: C2, result: 'pass', checks: [{ name: '50-app', result: 'pass', required: true }] });
    assert.equal(JSON.parse(readFileSync(join(dir, 'agent-state.json'), 'utf8')).bootId, 'boot-2');
    r.stop();
  });

  it('a restart in the same boot asks again for the reboot instead of verifying', async () => {
    save(stateIn('rebooting'));
    const f = fakePorts(dir, { bootId: 'boot-1', bootedCommit: C1 });
    const r = new Runner(new StateStore(dir), f.ports);
    await r.start();
    await until('the reboot', () => f.calls.length > 0);
    assert.deepEqual(f.calls, [`reboot install`]);
    r.stop();
  });

  it('a fallback found at start is reported once (not again when the runner restarts in the same boot)', async () => {
    save(stateIn('rolling-back'));
    const fb: FallbackFacts = { from: C2, to: C1, reason: 'health-check', failed: ['50-app'], detail: '50-app exited with status 1: no', detectedAt: T0 - 1000 };
    const f = fakePorts(dir, { bootId: 'boot-2', bootedCommit: C1 }, fb);
    const r = new Runner(new StateStore(dir), f.ports);
    await r.start();
    assert.equal(r.state.phase.name, 'idle');
    assert.deepEqual(f.events.filter((e) => e.kind === 'rollback'), [{ kind: 'rollback', from: C2, to: C1, reason: 'health-failed', detail: '50-app exited with status 1: no' }]);
    r.stop();
    const g = fakePorts(dir, { bootId: 'boot-2', bootedCommit: C1 }, fb);
    const r2 = new Runner(new StateStore(dir), g.ports);
    await r2.start();
    assert.deepEqual(g.events.filter((e) => e.kind === 'rollback'), []);
    r2.stop();
  });

  it('keeps a bad state file aside and starts from idle', async () => {
    writeFileSync(join(dir, 'agent-state.json'), '{"v":1,"phase":{"name":"exploding"}}');
    const f = fakePorts(dir, { bootId: 'boot-1', bootedCommit: C1 });
    const r = new Runner(new StateStore(dir), f.ports);
    await r.start();
    assert.equal(r.state.phase.name, 'idle');
    assert.equal(r.state.running?.commit, C1);
    assert.ok(readdirSync(dir).some((n) => n.startsWith('agent-state.json.bad-')));
    assert.ok(f.logs.some((l) => l.level === 'error' && /cannot use the saved agent state/.test(l.msg)));
    r.stop();
  });

  it('drops the answer of a cancelled job: a newer offer replaces a running download', async () => {
    const f = fakePorts(dir, { bootId: 'boot-1', bootedCommit: C1 });
    const gates: Array<() => void> = [];
    f.set({
      pull: (t, signal) => new Promise<void>((resolve, reject) => {
        f.calls.push(`pull ${t.commit}`);
        gates.push(resolve);
        signal.addEventListener('abort', () => reject(new CanopyError('ERR_ABORTED', 'cancelled')));
      }),
    });
    const r = new Runner(new StateStore(dir), f.ports);
    await r.start();
    r.dispatch({ kind: 'announcement', time: T0, target: target(C2), waveOpen: true, rejected: false });
    await until('first pull', () => gates.length === 1);
    const C3 = '3'.repeat(64);
    r.dispatch({ kind: 'announcement', time: T0, target: target(C3), waveOpen: true, rejected: false });
    await until('second pull', () => gates.length === 2);
    gates[1]();
    await until('deploy', () => f.calls.includes(`deploy ${C3}`));
    assert.deepEqual(f.calls.slice(0, 3), [`pull ${C2}`, `pull ${C3}`, `deploy ${C3}`]);
    assert.ok(!f.logs.some((l) => /no transition/.test(l.msg)), 'the aborted first pull was not delivered');
    r.stop();
  });

  it('a failed pull is retried after the backoff; a full disk is reported with its code', async () => {
    const f = fakePorts(dir, { bootId: 'boot-1', bootedCommit: C1 });
    let n = 0;
    f.set({
      now: () => Date.now(),
      pull: async () => {
        n++;
        if (n === 1) throw new CanopyError('ERR_NO_SPACE', 'the disk is full');
      },
    });
    const r = new Runner(new StateStore(dir), f.ports);
    await r.start();
    r.dispatch({ kind: 'announcement', time: Date.now(), target: target(C2), waveOpen: true, rejected: false });
    await until('failed', () => r.state.phase.name === 'failed');
    assert.equal(r.state.lastError?.code, 'ERR_NO_SPACE');
    assert.ok(f.events.some((e) => e.kind === 'progress' && e.phase === 'failed' && /^ERR_NO_SPACE/.test(e.message ?? '')));
    await until('retried', () => n === 2, 6000);
    await until('deployed', () => f.calls.includes(`deploy ${C2}`));
    r.stop();
  });

  it('classifies errors: signatures and downgrades are permanent, network and disk errors transient', () => {
    assert.equal(agentError(new CanopyError('ERR_SIGNATURE_INVALID', 'x')).retryable, false);
    assert.equal(agentError(new CanopyError('ERR_DOWNGRADE', 'x')).retryable, false);
    assert.equal(agentError(new CanopyError('ERR_NETWORK', 'x', { transient: true })).retryable, true);
    assert.equal(agentError(new CanopyError('ERR_NETWORK', 'x', { transient: false })).retryable, false);
    assert.equal(agentError(new CanopyError('ERR_HTTP_STATUS', 'x', { status: 500 })).retryable, true);
    assert.equal(agentError(new CanopyError('ERR_NO_SPACE', 'x')).retryable, true);
    assert.equal(agentError(new Error('boom')).code, 'ERR_INTERNAL');
  });

  it('an illegal transition is logged as an error and changes nothing', async () => {
    const f = fakePorts(dir, { bootId: 'boot-1', bootedCommit: C1 });
    const r = new Runner(new StateStore(dir), f.ports);
    await r.start();
    const before = JSON.stringify(r.state);
    r.dispatch({ kind: 'health-pass', time: T0, commit: C2, checks: [] });
    await r.settled();
    assert.equal(JSON.stringify(r.state), before);
    assert.ok(f.logs.some((l) => l.level === 'error' && /no transition for event health-pass in phase idle/.test(l.msg)));
    r.stop();
  });

  it('asks again for a reboot that failed, while the phase still wants it', async () => {
    save(stateIn('rebooting'));
    const f = fakePorts(dir, { bootId: 'boot-1', bootedCommit: C1 });
    let asked = 0;
    f.set({ reboot: async () => { asked++; throw new CanopyError('ERR_EXTERNAL_TOOL', 'systemctl reboot exited with status 1'); } });
    const r = new Runner(new StateStore(dir), f.ports);
    await r.start();
    await until('the first request', () => asked === 1);
    assert.ok(f.logs.some((l) => l.level === 'error' && /the reboot failed: .*asking again in 60 s/.test(l.msg)));
    assert.ok(r.busy === false, 'the retry is a minute away');
    r.stop();
  });

  it('holds in the requested phase before its effects', async () => {
    const f = fakePorts(dir, { bootId: 'boot-1', bootedCommit: C1 });
    const r = new Runner(new StateStore(dir), f.ports, { holdIn: 'downloading' });
    await r.start();
    r.dispatch({ kind: 'announcement', time: T0, target: target(C2), waveOpen: true, rejected: false });
    await until('saved', () => JSON.parse(readFileSync(join(dir, 'agent-state.json'), 'utf8')).phase.name === 'downloading');
    await sleep(50);
    assert.deepEqual(f.calls, [], 'no pull started');
    assert.ok(f.logs.some((l) => /holding in phase downloading/.test(l.msg)));
    r.stop();
  });
});
