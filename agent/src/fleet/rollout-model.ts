/**
 * A rollout as the operator keeps it: entirely inside the retained, signed
 * announcement, so a controller can stop, restart on another machine, and
 * carry on. Devices read only `rollout.id` and each wave's `name`,
 * `percent` and `open` (agent/PROTOCOL.md section 5); everything else here
 * is an operator-side extension that devices ignore, as the protocol lets
 * receivers ignore unknown fields:
 *
 * | field | meaning |
 * | --- | --- |
 * | `rollout.waves[].state` | `open`, `closed` (not reached yet, or aborted) or `paused` (was open, held) |
 * | `rollout.waves[].openedAt` | when the wave was opened |
 * | `rollout.control.status` | `running`, `paused`, `aborted` or `complete` |
 * | `rollout.control.reason` | why it is in that status (the pause reason names the wave and devices) |
 * | `rollout.control.since` | when it got there |
 * | `rollout.control.policy` | `maxFailureRate` (0..1), `minSample`, `successThreshold` (0..1), `soakSeconds` |
 * | `rollout.control.previous` | the release the channel offered before, for `rollout abort --revert` |
 *
 * Every function returns a new announcement body; the caller signs and
 * publishes it (a newer `created` replaces the retained one). Pure.
 */
import { CanopyError } from '../core/errors';
import { checkWaves, isProtocolName, type Announcement, type Wave } from '../channel/index';

export type WaveState = 'open' | 'closed' | 'paused';
export type RolloutStatus = 'running' | 'paused' | 'aborted' | 'complete';

/** When a wave may follow the previous one, and when a rollout stops itself. */
export interface RolloutPolicy {
  /** Pause when failed / settled devices of an open wave is above this (0..1). */
  maxFailureRate: number;
  /** Judge the failure rate only once this many devices of the wave settled (capped at the wave's size). */
  minSample: number;
  /** Open the next wave once this share of the targeted devices so far is healthy (0..1). */
  successThreshold: number;
  /** …and the last health verdict among them is at least this old. */
  soakSeconds: number;
}

export const DEFAULT_POLICY: RolloutPolicy = { maxFailureRate: 0.1, minSample: 3, successThreshold: 1, soakSeconds: 0 };

export interface ControlledWave extends Wave {
  state?: WaveState;
  openedAt?: string;
}

export interface RolloutControl {
  status: RolloutStatus;
  reason?: string;
  since?: string;
  policy?: RolloutPolicy;
  previous?: { commit: string; version?: string; ref?: string };
}

/** An announcement with the operator's rollout fields. */
export type ControlledAnnouncement = Omit<Announcement, 'rollout'> & {
  rollout: { id: string; waves: ControlledWave[]; control?: RolloutControl };
};

/**
 * Parses `--waves`: `1,10,50,100` (named `wave-1`, `wave-2`, …) or
 * `canary:1,early:10,all:100`. Percents are cumulative, strictly
 * increasing, in (0, 100] with at most two decimals.
 *
 * @throws ERR_INVALID_ARGUMENT naming the bad item.
 */
export function parseWaves(spec: string): Wave[] {
  const items = spec.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (items.length === 0 || items.length > 100) throw new CanopyError('ERR_INVALID_ARGUMENT', `--waves needs 1 to 100 comma-separated percents, got ${JSON.stringify(spec)}`);
  const waves = items.map((item, i): Wave => {
    const colon = item.lastIndexOf(':');
    const name = colon > 0 ? item.slice(0, colon) : `wave-${i + 1}`;
    const text = colon > 0 ? item.slice(colon + 1) : item;
    const percent = /^\d+(\.\d{1,2})?$/.test(text) ? Number(text) : NaN;
    if (!(percent > 0 && percent <= 100)) throw new CanopyError('ERR_INVALID_ARGUMENT', `wave ${JSON.stringify(item)}: the percent must be in (0, 100] with at most two decimals`);
    if (!isProtocolName(name)) throw new CanopyError('ERR_INVALID_ARGUMENT', `wave name ${JSON.stringify(name)} is not a valid name`);
    return { name, percent, open: false };
  });
  const problem = checkWaves(waves);
  if (problem) throw new CanopyError('ERR_INVALID_ARGUMENT', `--waves ${spec}: ${problem}`);
  return waves;
}

/** A wave's state; announcements made by other tools carry only `open`. */
export function waveState(w: ControlledWave): WaveState {
  return w.state ?? (w.open ? 'open' : 'closed');
}

/** The rollout's status; an announcement without control fields counts as running. */
export function rolloutStatus(a: ControlledAnnouncement): RolloutStatus {
  return a.rollout.control?.status ?? 'running';
}

/** The policy stored in the announcement, completed with defaults and overridden by `over`. */
export function rolloutPolicy(a: ControlledAnnouncement, over: Partial<RolloutPolicy> = {}): RolloutPolicy {
  return { ...DEFAULT_POLICY, ...(a.rollout.control?.policy ?? {}), ...stripUndefined(over) };
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Checks a policy's ranges. @throws ERR_INVALID_ARGUMENT. */
export function checkPolicy(p: RolloutPolicy): RolloutPolicy {
  const bad = (what: string): never => { throw new CanopyError('ERR_INVALID_ARGUMENT', `rollout policy: ${what}`); };
  if (!(p.maxFailureRate >= 0 && p.maxFailureRate <= 1)) bad(`maxFailureRate must be within 0..1, got ${p.maxFailureRate}`);
  if (!(p.successThreshold > 0 && p.successThreshold <= 1)) bad(`successThreshold must be within (0, 1], got ${p.successThreshold}`);
  if (!(Number.isSafeInteger(p.minSample) && p.minSample >= 1)) bad(`minSample must be a whole number >= 1, got ${p.minSample}`);
  if (!(p.soakSeconds >= 0 && Number.isFinite(p.soakSeconds))) bad(`soakSeconds must be >= 0, got ${p.soakSeconds}`);
  return p;
}

const iso = (ms: number): string => new Date(ms).toISOString();

function withWaves(a: ControlledAnnouncement, waves: ControlledWave[], control: RolloutControl): ControlledAnnouncement {
  return { ...a, rollout: { ...a.rollout, waves, control } };
}

/**
 * The rollout of a new release: the first wave open (all of them with
 * `allOpen`), status running.
 */
export function newRollout(
  id: string,
  waves: readonly Wave[],
  policy: RolloutPolicy,
  now: number,
  opts: { previous?: RolloutControl['previous']; allOpen?: boolean } = {},
): ControlledAnnouncement['rollout'] {
  const out: ControlledWave[] = waves.map((w, i) => {
    const open = opts.allOpen === true || i === 0;
    return { name: w.name, percent: w.percent, open, state: open ? 'open' : 'closed', ...(open ? { openedAt: iso(now) } : {}) };
  });
  const complete = out.every((w) => w.open);
  const control: RolloutControl = {
    status: 'running', reason: complete ? 'every wave is open' : `wave ${out[0].name} opened`, since: iso(now), policy: checkPolicy(policy),
    ...(opts.previous ? { previous: opts.previous } : {}),
  };
  return { id, waves: out, control };
}

/** Opens wave `index` (and any closed wave before it). @throws ERR_ROLLOUT_STATE unless running. */
export function openWave(a: ControlledAnnouncement, index: number, now: number, reason: string): ControlledAnnouncement {
  if (rolloutStatus(a) !== 'running') throw new CanopyError('ERR_ROLLOUT_STATE', `the rollout is ${rolloutStatus(a)}; resume it before opening waves`);
  if (index < 0 || index >= a.rollout.waves.length) throw new CanopyError('ERR_INVALID_ARGUMENT', `there is no wave ${index}`);
  const waves = a.rollout.waves.map((w, i): ControlledWave => (i <= index && !w.open ? { ...w, open: true, state: 'open', openedAt: iso(now) } : { ...w }));
  return withWaves(a, waves, { ...a.rollout.control, status: 'running', reason, since: iso(now) });
}

/** Marks the rollout complete (every wave open and settled). */
export function completeRollout(a: ControlledAnnouncement, now: number, reason: string): ControlledAnnouncement {
  return withWaves(a, a.rollout.waves.map((w) => ({ ...w })), { ...a.rollout.control, status: 'complete', reason, since: iso(now) });
}

/**
 * Holds the rollout: every open wave is closed and marked `paused`, so no
 * device starts the update; devices that already run it keep it.
 * @throws ERR_ROLLOUT_STATE when the rollout is aborted.
 */
export function pauseRollout(a: ControlledAnnouncement, now: number, reason: string): ControlledAnnouncement {
  if (rolloutStatus(a) === 'aborted') throw new CanopyError('ERR_ROLLOUT_STATE', 'the rollout was aborted; publish a new release instead');
  const waves = a.rollout.waves.map((w): ControlledWave => (w.open || waveState(w) === 'paused' ? { ...w, open: false, state: 'paused' } : { ...w }));
  return withWaves(a, waves, { ...a.rollout.control, status: 'paused', reason, since: iso(now) });
}

/** Opens the paused waves again. @throws ERR_ROLLOUT_STATE unless paused. */
export function resumeRollout(a: ControlledAnnouncement, now: number, reason: string): ControlledAnnouncement {
  if (rolloutStatus(a) !== 'paused') throw new CanopyError('ERR_ROLLOUT_STATE', `the rollout is ${rolloutStatus(a)}, not paused`);
  const waves = a.rollout.waves.map((w): ControlledWave => (waveState(w) === 'paused' ? { ...w, open: true, state: 'open' } : { ...w }));
  if (!waves.some((w) => w.open)) {
    waves[0] = { ...waves[0], open: true, state: 'open', openedAt: iso(now) };
  }
  return withWaves(a, waves, { ...a.rollout.control, status: 'running', reason, since: iso(now) });
}

/** Stops the rollout for good: every wave closed. */
export function abortRollout(a: ControlledAnnouncement, now: number, reason: string): ControlledAnnouncement {
  const waves = a.rollout.waves.map((w): ControlledWave => ({ ...w, open: false, state: 'closed' }));
  return withWaves(a, waves, { ...a.rollout.control, status: 'aborted', reason, since: iso(now) });
}

/** Index of the last open wave, or -1. */
export function lastOpenWave(a: ControlledAnnouncement): number {
  let last = -1;
  a.rollout.waves.forEach((w, i) => {
    if (w.open) last = i;
  });
  return last;
}
