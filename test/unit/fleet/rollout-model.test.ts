import { strict as assert } from 'node:assert';
import { validateAnnouncement } from '../../../agent/src/channel/index';
import {
  abortRollout, checkPolicy, DEFAULT_POLICY, lastOpenWave, newRollout, openWave, parseWaves, pauseRollout, resumeRollout, rolloutPolicy,
  rolloutStatus, waveState, type ControlledAnnouncement,
} from '../../../agent/src/fleet/index';
import { announcement, T0 } from './rollout-fixtures';

const states = (a: ControlledAnnouncement): string => a.rollout.waves.map((w) => `${w.name}:${waveState(w)}:${w.open ? 'o' : 'c'}`).join(' ');

describe('fleet/rollout-model', () => {
  it('parses --waves with default and given names, and refuses bad lists', () => {
    assert.deepEqual(parseWaves('1,10,50,100').map((w) => [w.name, w.percent]), [['wave-1', 1], ['wave-2', 10], ['wave-3', 50], ['wave-4', 100]]);
    assert.deepEqual(parseWaves('canary:0.5, all:100').map((w) => [w.name, w.percent]), [['canary', 0.5], ['all', 100]]);
    for (const bad of ['', '10,5', '0', '101', '1.234', 'a b:10', '10,10', 'x:10,x:20']) {
      assert.throws(() => parseWaves(bad), (e: { code?: string }) => e.code === 'ERR_INVALID_ARGUMENT', bad);
    }
  });

  it('a new rollout opens the first wave; devices accept it as an announcement', () => {
    const a = announcement();
    assert.equal(states(a), 'w1:open:o w2:closed:c w3:closed:c');
    assert.equal(rolloutStatus(a), 'running');
    assert.deepEqual(a.rollout.control?.previous, { commit: 'a'.repeat(64), version: '1.0' });
    assert.ok(validateAnnouncement(a).ok, 'the extension fields pass the device schema');
    const all = newRollout('r2', parseWaves('10,100'), DEFAULT_POLICY, T0, { allOpen: true });
    assert.ok(all.waves.every((w) => w.open));
  });

  it('opens waves in order, pauses the open ones, resumes exactly those', () => {
    const a = openWave(announcement(), 1, T0 + 1, 'gate passed');
    assert.equal(states(a), 'w1:open:o w2:open:o w3:closed:c');
    assert.equal(lastOpenWave(a), 1);
    const p = pauseRollout(a, T0 + 2, 'too many failures');
    assert.equal(states(p), 'w1:paused:c w2:paused:c w3:closed:c');
    assert.equal(rolloutStatus(p), 'paused');
    assert.equal(p.rollout.control?.reason, 'too many failures');
    assert.throws(() => openWave(p, 2, T0, 'x'), (e: { code?: string }) => e.code === 'ERR_ROLLOUT_STATE');
    const r = resumeRollout(p, T0 + 3, 'fixed');
    assert.equal(states(r), 'w1:open:o w2:open:o w3:closed:c');
    assert.throws(() => resumeRollout(r, T0, 'again'), (e: { code?: string }) => e.code === 'ERR_ROLLOUT_STATE');
  });

  it('abort closes every wave and cannot be paused afterwards', () => {
    const a = abortRollout(openWave(announcement(), 2, T0, 'x'), T0 + 1, 'bad release');
    assert.equal(states(a), 'w1:closed:c w2:closed:c w3:closed:c');
    assert.equal(rolloutStatus(a), 'aborted');
    assert.throws(() => pauseRollout(a, T0, 'x'), (e: { code?: string }) => e.code === 'ERR_ROLLOUT_STATE');
  });

  it('announcements of other tools (only open flags) read as running with the default policy', () => {
    const a = announcement();
    const foreign: ControlledAnnouncement = { ...a, rollout: { id: 'x', waves: [{ name: 'a', percent: 50, open: true }, { name: 'b', percent: 100, open: false }] } };
    assert.equal(rolloutStatus(foreign), 'running');
    assert.deepEqual(rolloutPolicy(foreign), DEFAULT_POLICY);
    assert.deepEqual(foreign.rollout.waves.map(waveState), ['open', 'closed']);
    assert.equal(rolloutPolicy(foreign, { soakSeconds: 5, minSample: undefined }).soakSeconds, 5);
  });

  it('checks policy ranges', () => {
    assert.throws(() => checkPolicy({ ...DEFAULT_POLICY, maxFailureRate: 2 }), /maxFailureRate/);
    assert.throws(() => checkPolicy({ ...DEFAULT_POLICY, minSample: 0 }), /minSample/);
    assert.throws(() => checkPolicy({ ...DEFAULT_POLICY, successThreshold: 0 }), /successThreshold/);
    assert.throws(() => checkPolicy({ ...DEFAULT_POLICY, soakSeconds: -1 }), /soakSeconds/);
  });
});
