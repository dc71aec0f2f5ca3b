/**
 * The rollout controller's decision: given the announcement (with its
 * policy) and the devices' states, what to do next. One step at a time, so
 * the controller loop stays trivial and every rule is tested here:
 *
 * 1. A rollout that is not running is left alone.
 * 2. Pause when an open wave's failure rate (failed or rolled back, over
 *    the devices that settled: healthy, failed or rolled back) is above
 *    `maxFailureRate`, once at least `min(minSample, wave size)` devices
 *    of it settled. The reason names the wave and the failed devices.
 * 3. Otherwise the next closed wave opens when, over every wave opened so
 *    far, at least `successThreshold` of the targeted devices are healthy
 *    and the newest health verdict among them is `soakSeconds` old. An
 *    empty wave passes at once.
 * 4. When every wave is open and that same gate holds, the rollout is
 *    complete.
 *
 * Pure: no clock, no I/O.
 */
import type { DeviceState } from '../channel/index';
import { lastOpenWave, rolloutPolicy, rolloutStatus, type ControlledAnnouncement, type RolloutPolicy } from './rollout-model';
import { isFailure, rolloutDevices, type RolloutDevice } from './rollout-progress';

export type RolloutAction =
  | { kind: 'wait'; reason: string }
  | { kind: 'open-wave'; index: number; reason: string }
  | { kind: 'pause'; reason: string; wave: number }
  | { kind: 'complete'; reason: string };

const pct = (x: number): string => `${Math.round(x * 1000) / 10}%`;

/** The failure verdict for one wave, or undefined when it is within the policy. */
export function waveFailure(devices: readonly RolloutDevice[], policy: RolloutPolicy): { failed: RolloutDevice[]; settled: number; rate: number } | undefined {
  if (devices.length === 0) return undefined;
  const failed = devices.filter((d) => isFailure(d.outcome));
  const settled = devices.filter((d) => d.outcome === 'healthy' || isFailure(d.outcome)).length;
  const sample = Math.min(policy.minSample, devices.length);
  if (settled < sample || settled === 0) return undefined;
  const rate = failed.length / settled;
  return rate > policy.maxFailureRate ? { failed, settled, rate } : undefined;
}

/**
 * What the controller should do now.
 *
 * @param now milliseconds since the epoch (for the soak time).
 * @param over policy values that override the announcement's (from the command line).
 */
export function decideRollout(a: ControlledAnnouncement, states: Iterable<DeviceState>, now: number, over: Partial<RolloutPolicy> = {}): RolloutAction {
  const status = rolloutStatus(a);
  if (status !== 'running') return { kind: 'wait', reason: `the rollout is ${status}${a.rollout.control?.reason ? `: ${a.rollout.control.reason}` : ''}` };
  const policy = rolloutPolicy(a, over);
  const devices = rolloutDevices(a, states);
  const waves = a.rollout.waves;

  for (let i = 0; i < waves.length; i++) {
    if (!waves[i].open) continue;
    const f = waveFailure(devices.filter((d) => d.wave === i), policy);
    if (f) {
      const who = f.failed.slice(0, 5).map((d) => `${d.device} ${d.detail ?? d.outcome}`).join('; ');
      const more = f.failed.length > 5 ? `; and ${f.failed.length - 5} more` : '';
      return {
        kind: 'pause',
        wave: i,
        reason: `wave ${waves[i].name}: ${f.failed.length} of ${f.settled} settled devices failed (${pct(f.rate)} > ${pct(policy.maxFailureRate)}): ${who}${more}`,
      };
    }
  }

  const last = lastOpenWave(a);
  const opened = devices.filter((d) => d.wave >= 0 && d.wave <= last);
  const healthy = opened.filter((d) => d.outcome === 'healthy');
  const needed = Math.ceil(policy.successThreshold * opened.length - 1e-9);
  const progress = `${healthy.length} of ${opened.length} device${opened.length === 1 ? '' : 's'} in the open waves healthy (need ${needed})`;
  if (last >= 0 && healthy.length < needed) return { kind: 'wait', reason: progress };
  const newest = Math.max(-Infinity, ...healthy.map((d) => d.healthTime ?? -Infinity));
  const soakLeft = newest === -Infinity ? 0 : newest + policy.soakSeconds * 1000 - now;
  if (soakLeft > 0) return { kind: 'wait', reason: `${progress}; soaking ${Math.ceil(soakLeft / 1000)} s more` };
  if (last === waves.length - 1) return { kind: 'complete', reason: `every wave is open and ${progress}` };
  const next = last + 1;
  const why = last < 0 ? `first wave` : `wave ${waves[last].name} passed: ${progress}`;
  return { kind: 'open-wave', index: next, reason: `${why}; opening wave ${waves[next].name}` };
}

/** Pretty-printable summary of where each device of a wave stands. */
export function describeDevices(devices: readonly RolloutDevice[]): string {
  return devices.map((d) => `${d.device}=${d.outcome}`).join(' ');
}
