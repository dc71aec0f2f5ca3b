import { strict as assert } from 'node:assert';
import { decideRollout, openWave, pauseRollout, abortRollout, completeRollout, waveFailure, rolloutDevices } from '../../../agent/src/fleet/index';
import { announcement, idsInBuckets, iso, state, T0, NEW } from './rollout-fixtures';

// Waves 10 / 50 / 100: w1 holds buckets [0,10), w2 [10,50), w3 [50,100).
const w1 = idsInBuckets(3, 0, 10);
const w2 = idsInBuckets(4, 10, 50);
const w3 = idsInBuckets(3, 50, 100);
const NOW = T0 + 3600_000;

describe('fleet/rollout-decision (the controller\'s decisions)', () => {
  it('waits while the first wave is not yet healthy', () => {
    const a = announcement();
    const states = [state(w1[0], 'healthy'), state(w1[1], 'installing'), state(w1[2], 'old'), ...w2.map((d) => state(d, 'old'))];
    const act = decideRollout(a, states, NOW);
    assert.equal(act.kind, 'wait');
    assert.match(act.reason, /1 of 3 devices in the open waves healthy \(need 3\)/);
  });

  it('opens the next wave once every device of the open waves is healthy', () => {
    const a = announcement();
    const act = decideRollout(a, [...w1.map((d) => state(d, 'healthy')), ...w2.map((d) => state(d, 'old'))], NOW);
    assert.deepEqual({ kind: act.kind, index: act.kind === 'open-wave' ? act.index : -1 }, { kind: 'open-wave', index: 1 });
    assert.match(act.reason, /wave w1 passed: 3 of 3 .* opening wave w2/);
  });

  it('counts the open waves cumulatively: wave 2 opens the third only when waves 1 and 2 are healthy', () => {
    const a = openWave(announcement(), 1, T0 + 1000, 'test');
    const some = [...w1.map((d) => state(d, 'healthy')), ...w2.slice(0, 3).map((d) => state(d, 'healthy')), state(w2[3], 'updated')];
    assert.equal(decideRollout(a, some, NOW).kind, 'wait');
    const all = [...w1.map((d) => state(d, 'healthy')), ...w2.map((d) => state(d, 'healthy'))];
    const act = decideRollout(a, all, NOW);
    assert.equal(act.kind, 'open-wave');
    assert.equal((act as { index: number }).index, 2);
  });

  it('honours the success threshold (an offline straggler does not block a 60% gate)', () => {
    const a = announcement([10, 50, 100], { successThreshold: 0.6 });
    const states = [state(w1[0], 'healthy'), state(w1[1], 'healthy'), state(w1[2], 'old', { online: false })];
    assert.equal(decideRollout(a, states, NOW).kind, 'open-wave');
    assert.equal(decideRollout(announcement(), states, NOW).kind, 'wait');
  });

  it('an empty wave passes at once', () => {
    const a = announcement();
    assert.equal(decideRollout(a, w2.map((d) => state(d, 'old')), NOW).kind, 'open-wave');
  });

  it('waits for the soak time after the newest health verdict', () => {
    const a = announcement([10, 100], { soakSeconds: 600 });
    const at = NOW - 120_000;
    const states = w1.map((d) => state(d, 'healthy', {}, at));
    const act = decideRollout(a, states, NOW);
    assert.equal(act.kind, 'wait');
    assert.match(act.reason, /soaking 480 s more/);
    assert.equal(decideRollout(a, states, at + 600_000).kind, 'open-wave');
  });

  it('pauses when the failure rate of an open wave passes the threshold, naming the devices and why', () => {
    const a = announcement();
    const states = [state(w1[0], 'healthy'), state(w1[1], 'rolled-back'), state(w1[2], 'healthy')];
    const act = decideRollout(a, states, NOW);
    assert.equal(act.kind, 'pause');
    assert.match(act.reason, /wave w1: 1 of 3 settled devices failed \(33\.3% > 10%\)/);
    assert.ok(act.reason.includes(`${w1[1]} rolled back (health-failed: app)`), act.reason);
  });

  it('judges the failure rate only after the minimum sample settled (capped at the wave size)', () => {
    const a = announcement([10, 100], { minSample: 3 });
    const one = [state(w1[0], 'failed'), state(w1[1], 'installing'), state(w1[2], 'old')];
    assert.equal(decideRollout(a, one, NOW).kind, 'wait', 'one settled device of a sample of three decides nothing');
    const two = [state(w1[0], 'failed'), state(w1[1], 'healthy'), state(w1[2], 'healthy')];
    assert.equal(decideRollout(a, two, NOW).kind, 'pause');
    const single = idsInBuckets(1, 0, 10);
    assert.equal(decideRollout(a, [state(single[0], 'rolled-back')], NOW).kind, 'pause', 'a wave of one device: its failure is the sample');
  });

  it('tolerates failures up to the threshold (a rate equal to it does not pause)', () => {
    const a = announcement([10, 100], { maxFailureRate: 1 / 3, successThreshold: 0.5 });
    const states = [state(w1[0], 'failed'), state(w1[1], 'healthy'), state(w1[2], 'healthy')];
    assert.equal(decideRollout(a, states, NOW).kind, 'open-wave');
  });

  it('completes when every wave is open and healthy', () => {
    let a = announcement();
    a = openWave(a, 2, T0, 'all');
    const states = [...w1, ...w2, ...w3].map((d) => state(d, 'healthy'));
    assert.equal(decideRollout(a, states, NOW).kind, 'complete');
  });

  it('does nothing while paused, aborted or complete', () => {
    const states = w1.map((d) => state(d, 'healthy'));
    for (const a of [pauseRollout(announcement(), NOW, 'operator'), abortRollout(announcement(), NOW, 'bad'), completeRollout(announcement(), NOW, 'done')]) {
      const act = decideRollout(a, states, NOW);
      assert.equal(act.kind, 'wait');
      assert.match(act.reason, /the rollout is (paused|aborted|complete)/);
    }
  });

  it('leaves devices of other channels, fleets and hardware out', () => {
    const a = { ...announcement(), hardware: ['rpi4'] };
    const states = [
      state(w1[0], 'failed', { hardware: 'rpi4' }),
      state(w1[1], 'failed', { hardware: 'x86' }),
      state(w1[2], 'failed', { hardware: 'rpi4', channel: 'beta' }),
    ];
    const devices = rolloutDevices(a, states);
    assert.deepEqual(devices.map((d) => d.device), [w1[0]]);
  });

  it('a device that rolled back and was later installed again and healthy counts as healthy', () => {
    const s = state(w1[0], 'healthy', { lastRollback: { from: NEW, to: 'a'.repeat(64), reason: 'boot-failed', time: iso(T0) } }, T0 + 5000);
    assert.equal(rolloutDevices(announcement(), [s])[0].outcome, 'healthy');
    const stale = state(w1[0], 'healthy', { lastRollback: { from: NEW, to: 'a'.repeat(64), reason: 'boot-failed', time: iso(T0 + 9000) } }, T0 + 5000);
    assert.equal(rolloutDevices(announcement(), [stale])[0].outcome, 'rolled-back');
  });

  it('waveFailure is undefined for an empty wave', () => {
    assert.equal(waveFailure([], { maxFailureRate: 0, minSample: 1, successThreshold: 1, soakSeconds: 0 }), undefined);
  });
});
