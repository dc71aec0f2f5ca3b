/**
 * Where a rollout stands, from the devices' retained states: which wave
 * each device belongs to (the same stable hash the device computes), and
 * how far each device got with the announced commit. Pure.
 */
import { parseTimestamp, wavePlacement, type DeviceState } from '../channel/index';
import type { ControlledAnnouncement } from './rollout-model';

/** How far one device got with a release. */
export type DeviceOutcome =
  /** has not started (or its wave is closed) */
  | 'waiting'
  /** downloading, staged or on trial */
  | 'installing'
  /** runs the commit, no health verdict for it yet */
  | 'updated'
  /** runs the commit and its health checks passed */
  | 'healthy'
  /** health checks failed on the commit */
  | 'failed'
  /** fell back from the commit */
  | 'rolled-back';

const time = (s: string | undefined): number => (s === undefined ? -Infinity : parseTimestamp(s));

/** The outcome of `commit` on a device, from its state. */
export function deviceOutcome(state: DeviceState, commit: string): DeviceOutcome {
  const rb = state.lastRollback;
  const health = state.lastHealth;
  const running = state.running?.commit === commit;
  const passed = health && health.commit === commit && health.result === 'pass';
  if (rb && rb.from === commit) {
    // Installed again after the rollback (an explicit install) and healthy since: that counts.
    if (!(running && passed && time(health!.time) > time(rb.time))) return 'rolled-back';
  }
  if (health && health.commit === commit && health.result === 'fail' && !(rb && rb.from === commit)) return 'failed';
  if (running) return passed ? 'healthy' : 'updated';
  if (state.pending?.commit === commit) return 'installing';
  return 'waiting';
}

/** True for outcomes that count against a wave. */
export const isFailure = (o: DeviceOutcome): boolean => o === 'failed' || o === 'rolled-back';

/** One device in a rollout. */
export interface RolloutDevice {
  device: string;
  /** Index of its wave, -1 when no wave covers it. */
  wave: number;
  bucket: number;
  outcome: DeviceOutcome;
  online: boolean;
  /** Why it failed, for people: the rollback reason or the failed checks. */
  detail?: string;
  /** Time of its health verdict on this commit, if any. */
  healthTime?: number;
}

/** Counts for one wave (its own devices, not the cumulative ones). */
export interface WaveCounts {
  name: string;
  percent: number;
  state: string;
  targeted: number;
  /** Running the commit (healthy included). */
  updated: number;
  healthy: number;
  /** Failed checks or rolled back. */
  failed: number;
  rolledBack: number;
  installing: number;
  waiting: number;
  offline: number;
}

/** Whether a device is part of the announcement's audience (channel, hardware). */
export function inAudience(a: ControlledAnnouncement, s: DeviceState): boolean {
  if (s.fleet !== a.fleet) return false;
  if (s.channel !== undefined && s.channel !== a.channel) return false;
  if (a.hardware && !(s.hardware !== undefined && a.hardware.includes(s.hardware))) return false;
  return true;
}

function failureDetail(s: DeviceState, commit: string): string | undefined {
  if (s.lastRollback && s.lastRollback.from === commit) {
    return `rolled back (${s.lastRollback.reason}${s.lastRollback.detail ? `: ${s.lastRollback.detail}` : ''})`;
  }
  if (s.lastHealth && s.lastHealth.commit === commit && s.lastHealth.result === 'fail') {
    return `health failed${s.lastHealth.failed?.length ? ` (${s.lastHealth.failed.join(', ')})` : ''}`;
  }
  return undefined;
}

/** Every device of the audience with its wave and outcome, sorted by wave then id. */
export function rolloutDevices(a: ControlledAnnouncement, states: Iterable<DeviceState>): RolloutDevice[] {
  const out: RolloutDevice[] = [];
  for (const s of states) {
    if (!inAudience(a, s)) continue;
    const p = wavePlacement(a, s.device);
    const outcome = deviceOutcome(s, a.commit);
    const detail = isFailure(outcome) ? failureDetail(s, a.commit) : undefined;
    const healthTime = s.lastHealth && s.lastHealth.commit === a.commit ? parseTimestamp(s.lastHealth.time) : undefined;
    out.push({ device: s.device, wave: p.index, bucket: p.bucket, outcome, online: s.online, ...(detail ? { detail } : {}), ...(healthTime !== undefined ? { healthTime } : {}) });
  }
  return out.sort((x, y) => (x.wave - y.wave) || (x.device < y.device ? -1 : x.device > y.device ? 1 : 0));
}

/** Per-wave counts. */
export function waveCounts(a: ControlledAnnouncement, devices: readonly RolloutDevice[]): WaveCounts[] {
  return a.rollout.waves.map((w, i) => {
    const mine = devices.filter((d) => d.wave === i);
    const n = (o: RolloutDevice['outcome']): number => mine.filter((d) => d.outcome === o).length;
    return {
      name: w.name,
      percent: w.percent,
      state: w.state ?? (w.open ? 'open' : 'closed'),
      targeted: mine.length,
      updated: n('updated') + n('healthy'),
      healthy: n('healthy'),
      failed: n('failed') + n('rolled-back'),
      rolledBack: n('rolled-back'),
      installing: n('installing'),
      waiting: n('waiting'),
      offline: mine.filter((d) => !d.online && d.outcome !== 'healthy' && !isFailure(d.outcome)).length,
    };
  });
}
