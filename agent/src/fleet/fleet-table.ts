/** `canopy fleet status` as a table for people. Pure. */
import type { FleetRow } from './fleet-view';
import { table } from './rollout-report';

const short = (c: string): string => c.slice(0, 12);
/** `2025-06-01T12:00:03.123Z` -> `12:00:03`. */
const clock = (t: string): string => t.slice(11, 19);

const cut = (s: string, n: number): string => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

export function formatFleetRows(rows: readonly FleetRow[]): string {
  if (rows.length === 0) return 'no device has reported its state yet';
  // A device that fell back may report a commit without its version: borrow it from the others.
  const versions = new Map<string, string>();
  for (const r of rows) for (const x of [r.running, r.pending]) if (x?.version) versions.set(x.commit, x.version);
  const label = (x: { commit: string; version?: string }): string => {
    const v = x.version ?? versions.get(x.commit);
    return v ? `${v} (${short(x.commit)})` : short(x.commit);
  };
  const head = ['DEVICE', 'ONLINE', 'RUNNING', 'PENDING', 'WAVE', 'HEALTH', 'LAST ROLLBACK', 'LAST REFUSAL'];
  const body = rows.map((r) => [
    r.device,
    r.online ? 'yes' : 'no',
    r.running ? label(r.running) : '-',
    r.pending ? `${label(r.pending)} ${r.pending.phase}` : '-',
    r.wave ?? '-',
    r.lastHealth ? `${r.lastHealth.result} ${clock(r.lastHealth.time)}${r.lastHealth.failed?.length ? ` (${r.lastHealth.failed.join(',')})` : ''}` : '-',
    r.lastRollback ? cut(`${r.lastRollback.reason} ${clock(r.lastRollback.time)} ${label({ commit: r.lastRollback.from })}->${label({ commit: r.lastRollback.to })}${r.lastRollback.detail ? `: ${r.lastRollback.detail}` : ''}`, 72) : '-',
    r.lastRefusal ? cut(`${r.lastRefusal.command ? `${r.lastRefusal.command} ` : ''}${r.lastRefusal.reason} ${clock(r.lastRefusal.time)}`, 40) : '-',
  ]);
  const online = rows.filter((r) => r.online).length;
  return [...table([head, ...body]), '', `${rows.length} device${rows.length === 1 ? '' : 's'}, ${online} online`].join('\n');
}
