/**
 * `canopy rollout status`: the channel's announcement, its rollout control
 * fields, per-wave counts and every device of the audience, plus what the
 * controller would do next. Pure.
 */
import type { DeviceState } from '../channel/index';
import { decideRollout, type RolloutAction } from './rollout-decision';
import { rolloutPolicy, rolloutStatus, type ControlledAnnouncement, type RolloutPolicy, type RolloutStatus } from './rollout-model';
import { rolloutDevices, waveCounts, type RolloutDevice, type WaveCounts } from './rollout-progress';

export interface RolloutReport {
  channel: string;
  ref: string;
  commit: string;
  version: string;
  rolloutId: string;
  status: RolloutStatus;
  reason?: string;
  since?: string;
  policy: RolloutPolicy;
  created: string;
  expires: string;
  previous?: { commit: string; version?: string; ref?: string };
  waves: WaveCounts[];
  devices: RolloutDevice[];
  next: RolloutAction;
}

export function rolloutReport(a: ControlledAnnouncement, states: readonly DeviceState[], now: number): RolloutReport {
  const devices = rolloutDevices(a, states);
  const c = a.rollout.control;
  return {
    channel: a.channel, ref: a.ref, commit: a.commit, version: a.version, rolloutId: a.rollout.id, status: rolloutStatus(a),
    ...(c?.reason ? { reason: c.reason } : {}), ...(c?.since ? { since: c.since } : {}), policy: rolloutPolicy(a),
    created: a.created, expires: a.expires, ...(c?.previous ? { previous: c.previous } : {}),
    waves: waveCounts(a, devices), devices, next: decideRollout(a, states, now),
  };
}

/** The report as a table for people. */
export function formatRolloutReport(r: RolloutReport): string {
  const lines = [
    `channel ${r.channel}: ${r.version} (${r.commit.slice(0, 12)}) on ${r.ref}, rollout ${r.rolloutId}`,
    `status: ${r.status}${r.reason ? ` - ${r.reason}` : ''}`,
    `policy: pause above ${r.policy.maxFailureRate * 100}% failed (min sample ${r.policy.minSample}); next wave at ${r.policy.successThreshold * 100}% healthy, soak ${r.policy.soakSeconds} s`,
    '',
  ];
  const head = ['WAVE', '%', 'STATE', 'TARGETED', 'UPDATED', 'HEALTHY', 'FAILED', 'ROLLED-BACK', 'INSTALLING', 'WAITING', 'OFFLINE'];
  const rows = r.waves.map((w) => [w.name, String(w.percent), w.state, w.targeted, w.updated, w.healthy, w.failed, w.rolledBack, w.installing, w.waiting, w.offline].map(String));
  lines.push(...table([head, ...rows]));
  const failed = r.devices.filter((d) => d.detail);
  if (failed.length) {
    lines.push('', 'failed devices:');
    for (const d of failed.slice(0, 20)) lines.push(`  ${d.device} (wave ${r.waves[d.wave]?.name ?? '-'}): ${d.detail}`);
    if (failed.length > 20) lines.push(`  … and ${failed.length - 20} more`);
  }
  lines.push('', `next: ${r.next.kind === 'wait' ? `wait - ${r.next.reason}` : `${r.next.kind} - ${r.next.reason}`}`);
  return lines.join('\n');
}

/** Left-aligned columns separated by two spaces. */
export function table(rows: string[][]): string[] {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => { widths[i] = Math.max(widths[i] ?? 0, c.length); });
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ').trimEnd());
}
