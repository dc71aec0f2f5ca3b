/**
 * When a staged update may reboot the device (the configuration's `reboot`
 * section): `immediate` at once, `manual` only on a reboot command, and
 * `maintenance-window` when the clock is inside the window: on one of its
 * days, between `start` and `end` (HH:MM, `end` excluded). A window whose
 * end is not after its start crosses midnight; its days name the day it
 * starts. Pure (the time comes in).
 */
import type { AgentConfig, Weekday } from '../config/index';

export type RebootPolicy = AgentConfig['reboot'];

const DAYS: readonly Weekday[] = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

function minutes(hhmm: string): number {
  const [h, m] = hhmm.split(':').map(Number);
  return h * 60 + m;
}

/** Day of week (0 = Sunday) and minute of day of `ms`, in UTC or local time. */
function clock(ms: number, utc: boolean): { day: number; minute: number } {
  const d = new Date(ms);
  return utc ? { day: d.getUTCDay(), minute: d.getUTCHours() * 60 + d.getUTCMinutes() } : { day: d.getDay(), minute: d.getHours() * 60 + d.getMinutes() };
}

/** True when `ms` is inside the maintenance window. */
export function inWindow(window: NonNullable<RebootPolicy['window']>, ms: number): boolean {
  const { day, minute } = clock(ms, window.timezone === 'UTC');
  const start = minutes(window.start);
  const end = minutes(window.end);
  const on = (d: number): boolean => window.days.includes(DAYS[(d + 7) % 7]);
  if (start < end) return on(day) && minute >= start && minute < end;
  // Crosses midnight: the evening part on a window day, or the morning after one.
  return (on(day) && minute >= start) || (on(day - 1) && minute < end);
}

/**
 * Milliseconds until a reboot is allowed: 0 now, null never by itself
 * (manual). For a window, the start of the next minute inside it (searched
 * a week ahead).
 */
export function rebootDelayMs(policy: RebootPolicy, now: number): number | null {
  if (policy.policy === 'immediate') return 0;
  if (policy.policy === 'manual' || !policy.window) return null;
  if (inWindow(policy.window, now)) return 0;
  const step = 60_000;
  const first = Math.ceil((now + 1) / step) * step;
  for (let t = first; t <= now + 8 * 24 * 3600_000; t += step) {
    if (inWindow(policy.window, t)) return t - now;
  }
  return null;
}

/** True when a reboot command may reboot now (`force` ignores the window; manual allows commands). */
export function rebootAllowedNow(policy: RebootPolicy, now: number, force: boolean): boolean {
  if (force || policy.policy !== 'maintenance-window' || !policy.window) return true;
  return inWindow(policy.window, now);
}
