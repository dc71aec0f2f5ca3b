/**
 * Shared fixtures for the fleet tests: an announcement with waves, device
 * states at each stage of an update, and ids placed in known waves.
 */
import { rolloutBucket, type DeviceState } from '../../../agent/src/channel/index';
import { DEFAULT_POLICY, newRollout, type ControlledAnnouncement, type RolloutPolicy } from '../../../agent/src/fleet/index';

export const OLD = 'a'.repeat(64);
export const NEW = 'b'.repeat(64);
export const T0 = Date.parse('2026-01-01T00:00:00Z');
export const iso = (ms: number): string => new Date(ms).toISOString();

export function announcement(waves: number[] = [10, 50, 100], policy: Partial<RolloutPolicy> = {}, id = 'r1'): ControlledAnnouncement {
  return {
    v: 1, type: 'announcement', fleet: 'acme', channel: 'stable', ref: 'acme/os', commit: NEW, version: '2.0',
    rollout: newRollout(id, waves.map((p, i) => ({ name: `w${i + 1}`, percent: p, open: false })), { ...DEFAULT_POLICY, ...policy }, T0, { previous: { commit: OLD, version: '1.0' } }),
    created: iso(T0), expires: iso(T0 + 30 * 86400_000),
  };
}

/** `n` device ids whose bucket for rollout `id` falls in [lo, hi). */
export function idsInBuckets(n: number, lo: number, hi: number, id = 'r1', prefix = 'dev'): string[] {
  const out: string[] = [];
  for (let i = 0; out.length < n && i < 100_000; i++) {
    const d = `${prefix}-${i}`;
    const b = rolloutBucket(id, d);
    if (b >= lo && b < hi) out.push(d);
  }
  return out;
}

export type Stage = 'old' | 'installing' | 'updated' | 'healthy' | 'failed' | 'rolled-back';

export function state(device: string, stage: Stage, over: Partial<DeviceState> = {}, at = T0 + 60_000): DeviceState {
  const base: DeviceState = {
    v: 1, type: 'state', fleet: 'acme', device, time: iso(at), online: true, agentVersion: '0.1.0', channel: 'stable',
    running: { commit: OLD, version: '1.0' }, pending: null, lastHealth: null, lastRollback: null,
  };
  switch (stage) {
    case 'installing': base.pending = { commit: NEW, version: '2.0', phase: 'downloading' }; break;
    case 'updated': base.running = { commit: NEW, version: '2.0' }; break;
    case 'healthy': base.running = { commit: NEW, version: '2.0' }; base.lastHealth = { commit: NEW, result: 'pass', time: iso(at) }; break;
    case 'failed': base.running = { commit: NEW, version: '2.0' }; base.lastHealth = { commit: NEW, result: 'fail', time: iso(at), failed: ['app'] }; break;
    case 'rolled-back':
      base.lastHealth = { commit: NEW, result: 'fail', time: iso(at - 1000), failed: ['app'] };
      base.lastRollback = { from: NEW, to: OLD, reason: 'health-failed', detail: 'app', time: iso(at) };
      break;
    default: break;
  }
  return { ...base, ...over };
}
