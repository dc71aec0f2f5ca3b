/**
 * Dates on the command line (`commit --timestamp`, `prune
 * --keep-younger-than`). `ostree` hands these to gnulib's parse_datetime,
 * which reads almost anything `date -d` reads; Canopy accepts the forms
 * people use in scripts, with the same meaning:
 *
 * - `@SECONDS` (a fraction is dropped)
 * - `YYYY-M-D`, optionally followed by ` HH:MM[:SS[.frac]]` or
 *   `THH:MM[:SS[.frac]]`, optionally followed by a zone: `Z`, `UTC`, `GMT`,
 *   `±HH`, `±HHMM` or `±HH:MM` (with or without a space before it). Without
 *   a zone the time is local (the `TZ` environment variable applies), as in
 *   ostree.
 * - `now`, `today`, `yesterday`, `tomorrow`
 * - `N UNIT [ago]` with UNIT one of second, minute, hour, day, week,
 *   fortnight, month, year (singular or plural; `sec`, `min` too): an
 *   offset from now, into the past with `ago`.
 */
import { CanopyError } from '../core/errors';

const FORMATS = '@SECONDS, YYYY-MM-DD[ HH:MM[:SS]][ ZONE], now, yesterday, or "N days ago"';

function bad(text: string, why?: string): CanopyError {
  return new CanopyError('ERR_USAGE', `cannot parse date ${JSON.stringify(text)}${why ? `: ${why}` : ''} (accepted: ${FORMATS})`, { text });
}

const SECONDS: Record<string, number> = { second: 1, sec: 1, minute: 60, min: 60, hour: 3600, day: 86400, week: 604800, fortnight: 1209600 };

const ABSOLUTE = /^(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?\s*(Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?$/i;

/** Seconds since the epoch for `text`, relative forms measured from `nowMs`. Throws ERR_USAGE. */
export function parseDateTime(text: string, nowMs: number): number {
  const s = text.trim().replace(/\s+/g, ' ');
  const now = Math.floor(nowMs / 1000);
  let m = /^@(-?\d+)(?:\.\d+)?$/.exec(s);
  if (m) return Number(m[1]);
  switch (s.toLowerCase()) {
    case 'now': case 'today': return now;
    case 'yesterday': return now - 86400;
    case 'tomorrow': return now + 86400;
  }
  m = /^([+-]?\d+) ?([a-z]+?)s?( ago)?$/i.exec(s);
  if (m) return relative(text, nowMs, Number(m[1]) * (m[3] ? -1 : 1), m[2].toLowerCase());
  m = ABSOLUTE.exec(s);
  if (!m) throw bad(text);
  const [, y, mo, d, hh = '0', mi = '0', ss = '0', zone] = m;
  const f = { y: Number(y), mo: Number(mo), d: Number(d), h: Number(hh), mi: Number(mi), s: Number(ss) };
  const daysInMonth = new Date(Date.UTC(f.y, f.mo, 0)).getUTCDate();
  if (f.mo < 1 || f.mo > 12) throw bad(text, `month ${f.mo} out of range`);
  if (f.d < 1 || f.d > daysInMonth) throw bad(text, `day ${f.d} out of range`);
  if (f.h > 23 || f.mi > 59 || f.s > 59) throw bad(text, 'time out of range');
  if (zone === undefined) {
    const local = new Date(2000, 0, 1, f.h, f.mi, f.s);
    local.setFullYear(f.y, f.mo - 1, f.d);
    return Math.floor(local.getTime() / 1000);
  }
  const utc = Date.UTC(f.y, f.mo - 1, f.d, f.h, f.mi, f.s) / 1000;
  return utc - zoneOffset(text, zone);
}

function zoneOffset(text: string, zone: string): number {
  if (/^(z|utc|gmt)$/i.test(zone)) return 0;
  const m = /^([+-])(\d{2}):?(\d{2})?$/.exec(zone)!;
  const h = Number(m[2]);
  const mi = Number(m[3] ?? '0');
  if (h > 24 || mi > 59) throw bad(text, `zone ${zone} out of range`);
  return (m[1] === '-' ? -1 : 1) * (h * 3600 + mi * 60);
}

function relative(text: string, nowMs: number, n: number, unit: string): number {
  if (Object.hasOwn(SECONDS, unit)) return Math.floor(nowMs / 1000) + n * SECONDS[unit];
  if (unit === 'month' || unit === 'year') {
    // Calendar arithmetic in local time, as mktime normalises it.
    const d = new Date(nowMs);
    if (unit === 'month') d.setMonth(d.getMonth() + n);
    else d.setFullYear(d.getFullYear() + n);
    return Math.floor(d.getTime() / 1000);
  }
  throw bad(text, `unknown unit ${JSON.stringify(unit)}`);
}
