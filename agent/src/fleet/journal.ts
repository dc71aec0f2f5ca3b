/**
 * The operator's journal: what devices told the operator in events, which
 * MQTT does not retain, kept in a small JSON file so the next `fleet
 * status` still shows it. Today that is each device's last refused
 * command. Written atomically (temporary file, rename); bounded.
 */
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { CanopyError, ioError } from '../core/errors';
import type { FleetView, Refusal } from './fleet-view';

const MAX_DEVICES = 100_000;
const MAX_BYTES = 64 << 20;

export interface Journal {
  v: 1;
  fleet: string;
  refusals: Record<string, Refusal>;
}

/** Where the journal lives by default: `$XDG_STATE_HOME/canopy/fleet-<fleet>.json` (or `~/.local/state/…`). */
export function defaultJournalPath(env: Readonly<Record<string, string | undefined>>, fleet: string): string | undefined {
  const base = env.XDG_STATE_HOME || (env.HOME ? join(env.HOME, '.local', 'state') : undefined);
  return base ? join(base, 'canopy', `fleet-${fleet}.json`) : undefined;
}

/**
 * Reads a journal; a missing file is an empty journal.
 *
 * @throws ERR_STATE_INVALID for a file that is not a journal of this fleet;
 *   ERR_IO / ERR_PERMISSION when it cannot be read.
 */
export function readJournal(path: string, fleet: string): Journal {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { v: 1, fleet, refusals: {} };
    throw ioError(e, 'read', path);
  }
  const bad = (why: string): never => { throw new CanopyError('ERR_STATE_INVALID', `${path}: ${why}`, { path }); };
  if (text.length > MAX_BYTES) bad('larger than 64 MiB');
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    bad('not JSON');
  }
  const j = doc as Partial<Journal>;
  if (typeof j !== 'object' || j === null || j.v !== 1 || typeof j.refusals !== 'object' || j.refusals === null) bad('not a fleet journal (v 1)');
  if (j.fleet !== fleet) bad(`is the journal of fleet ${JSON.stringify(j.fleet)}, not ${JSON.stringify(fleet)}`);
  const refusals: Record<string, Refusal> = {};
  for (const [id, r] of Object.entries(j.refusals as Record<string, unknown>)) {
    const x = r as Partial<Refusal>;
    if (typeof x?.time === 'string' && typeof x.reason === 'string') refusals[id] = x as Refusal;
  }
  return { v: 1, fleet, refusals };
}

/** Writes a journal atomically. @throws ERR_IO / ERR_NO_SPACE / ERR_PERMISSION. */
export function writeJournal(path: string, j: Journal): void {
  const entries = Object.entries(j.refusals).sort((a, b) => (a[1].time < b[1].time ? 1 : -1)).slice(0, MAX_DEVICES);
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    writeFileSync(tmp, `${JSON.stringify({ v: 1, fleet: j.fleet, refusals: Object.fromEntries(entries) }, null, 1)}\n`, { mode: 0o600 });
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw ioError(e, 'write', path);
  }
}

/** Feeds a journal's refusals into a view. */
export function loadJournalInto(view: FleetView, j: Journal): void {
  for (const [id, r] of Object.entries(j.refusals)) view.recordRefusal(id, r);
}

/** The view's refusals merged over a journal's. */
export function journalFrom(view: FleetView, fleet: string, old?: Journal): Journal {
  const refusals: Record<string, Refusal> = { ...(old?.refusals ?? {}) };
  for (const [id, r] of view.refusals()) refusals[id] = r;
  return { v: 1, fleet, refusals };
}
