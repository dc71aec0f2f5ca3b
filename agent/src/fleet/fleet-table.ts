/** `canopy fleet status` as a table for people. Pure. */
import type { FleetRow } from './fleet-view';
import { table } from './rollout-report';

const short = (c: string): string => c.slice(0, 12);
const label = (x: { commit: string; version?: string }): string => (x.version ? `${x.version} (${short(x.commit)})` : short(x.commit));
/** `2025-06-01T12:00:03.123Z` -> `12:00:03`. */
const clock = (t: string): string => t.slice(11, 19);

export function formatFleetRows(rows: readonly FleetRow[]): string {
  if (rows.length === 0) return 'no device has reported its state yet';
  const head = ['DEVICE', 'ONLINE', 'RUNNING', 'PENDING', 'WAVE', 'HEALTH', 'LAST ROLLBACK', 'LAST REFUSAL'];
  const body = rows.map((r) => [
    r.device,
    r.online ? 'yes' : 'no',
    r.running ? label(r.running) : '-',
    r.pending ? `${label(r.pending)} ${r.pending.phase}` : '-',
    r.wave ?? '-',
    r.lastHealth ? `${r.lastHealth.result} ${clock(r.lastHealth.time)}${r.lastHealth.failed?.length ? ` (${r.lastHealth.failed.join(',')})` : ''}` : '-',
    r.lastRollback ? `${r.lastRollback.reason} ${clock(r.lastRollback.time)} ${short(r.lastRollback.from)}->${short(r.lastRollback.to)}${r.lastRollback.detail ? `: ${r.lastRollback.detail}` : ''}` : '-',
    r.lastRefusal ? `${r.lastRefusal.command ? `${r.lastRefusal.command} ` : ''}${r.lastRefusal.reason} ${clock(r.lastRefusal.time)}` : '-',
  ]);
  const online = rows.filter((r) => r.online).length;
  return [...table([head, ...body]), '', `${rows.length} device${rows.length === 1 ? '' : 's'}, ${online} online`].join('\n');
}
