/**
 * The boot contract as a pure model: what the boot loader does at each boot and what the
 * agent writes at each step, over the variables of the boot-loader environment. The U-Boot
 * script (uboot/boot.cmd) and the GRUB snippet (grub/canopy.cfg) implement the boot side;
 * the backends in this module implement the agent side; bootloader/CONTRACT.md describes
 * both and bootloader/contract.json holds the names, defaults and test vectors that the
 * model and the real boot loaders are both checked against.
 *
 * Entries are numbered from 0: entry 0 is the default (newest) deployment, uEnv.txt keys
 * without a suffix and GRUB menu entry 0; entry 1 is the previous deployment, uEnv.txt keys
 * with the suffix `2` and GRUB menu entry 1.
 *
 * Counters are single decimal digits on purpose: U-Boot's `setexpr` and `itest` work in
 * hexadecimal, and digits 0..9 read the same in both bases.
 */
import { CanopyError } from '../core/errors';

/** Version of the contract; bumped when a name or a rule changes. */
export const BOOT_CONTRACT_VERSION = 1;
/** Trial boots a new deployment gets when the caller names no budget. */
export const TRIES_DEFAULT = 3;
/** Smallest allowed try budget. */
export const TRIES_MIN = 1;
/** Largest allowed try budget (keeps every counter a single decimal digit). */
export const TRIES_MAX = 8;

/** U-Boot environment variables of the contract. */
export const UBOOT_VAR = {
  /** `1` while a staged deployment is on trial (agent sets, agent or boot script clears). */
  upgradeAvailable: 'upgrade_available',
  /** Trial boots spent, decimal 0..9 (agent resets, boot script increments). */
  bootcount: 'bootcount',
  /** The try budget, decimal 1..8 (agent sets; the script reads 3 when missing or invalid). */
  bootlimit: 'bootlimit',
  /** `1` once the boot script fell back; it then keeps booting entry 1 (boot script sets, agent clears). */
  fallback: 'canopy_fallback',
  /** `1` when a health check failed the trial (agent sets and clears; the script keeps it). */
  failed: 'canopy_failed',
} as const;

/** grubenv variables of the contract (greenboot names plus one marker). */
export const GRUB_VAR = {
  /** Trial boots left, `-1` after a fallback (agent sets, GRUB counts down). */
  counter: 'boot_counter',
  /** `1` when the last boot was confirmed healthy; GRUB resets it to `0` at each boot. */
  success: 'boot_success',
  /** `1` when a health check failed the trial (agent sets and clears). */
  failed: 'canopy_failed',
} as const;

/** The boot loaders the contract covers. */
export type LoaderKind = 'uboot' | 'grub';
/** Environment variables as the model sees them. */
export type BootEnv = Readonly<Record<string, string>>;
/** Index of a boot entry: 0 = default deployment, 1 = previous deployment. */
export type EntryIndex = 0 | 1;

/** The world a boot happens in. */
export interface BootContext {
  /** How many entries the boot loader sees (uEnv.txt entries, GRUB menu entries). */
  entries: number;
  /** Per entry: can its kernel be loaded and started? Default: all can. */
  loadable?: readonly boolean[];
  /** U-Boot only: the boot loader cannot write its environment. */
  saveFails?: boolean;
}

/** What one boot did. */
export interface BootResult {
  /** The entry that started, or null when no entry could be loaded. */
  entry: EntryIndex | null;
  /** The entry the counting logic chose, before any load failure. */
  preferred: EntryIndex;
  /** The environment as stored after the boot. */
  env: BootEnv;
  /** Whether the boot loader wrote its environment. */
  saved: boolean;
}

/** Why the device runs the previous deployment. */
export type FallbackReason = 'health-check' | 'tries-exhausted' | 'not-recorded';

/** The agent's reading of a boot. */
export type FallbackVerdict =
  | { fellBack: false }
  | { fellBack: true; reason: FallbackReason };

/** A summary of the recorded boot state. */
export interface BootStateSummary {
  /** A staged deployment is on trial (not confirmed, no fallback yet). */
  trial: boolean;
  /** The boot loader recorded a fallback that the agent has not finished. */
  fallback: boolean;
  /** The agent recorded a failed health check. */
  healthFailed: boolean;
  /** Trial boots left before the boot loader falls back (trial only). */
  triesLeft?: number;
}

const DIGITS = '0123456789';

function isDigit(s: string | undefined, min: number, max: number): s is string {
  return s !== undefined && s.length === 1 && DIGITS.includes(s) && Number(s) >= min && Number(s) <= max;
}

/** The try budget U-Boot's script uses: `bootlimit` when it is 1..8, else the default. */
export function ubootLimit(env: BootEnv): number {
  const v = env[UBOOT_VAR.bootlimit];
  return isDigit(v, TRIES_MIN, TRIES_MAX) ? Number(v) : TRIES_DEFAULT;
}

/** Trial boots spent as the script reads them: `bootcount` when it is 0..limit, else limit (spent). */
export function ubootCount(env: BootEnv, limit = ubootLimit(env)): number {
  const v = env[UBOOT_VAR.bootcount];
  return isDigit(v, 0, limit) ? Number(v) : limit;
}

/** Throws ERR_INVALID_ARGUMENT unless `tries` is an integer in TRIES_MIN..TRIES_MAX. */
export function assertTries(tries: number): void {
  if (!Number.isInteger(tries) || tries < TRIES_MIN || tries > TRIES_MAX) {
    throw new CanopyError('ERR_INVALID_ARGUMENT',
      `try budget ${String(tries)} is outside ${TRIES_MIN}..${TRIES_MAX} (counters must stay single decimal digits)`,
      { tries: String(tries) });
  }
}

/** True while the boot loader has recorded a fallback the agent has not finished. */
export function fallbackPending(kind: LoaderKind, env: BootEnv): boolean {
  return kind === 'uboot' ? env[UBOOT_VAR.fallback] === '1' : env[GRUB_VAR.counter] === '-1';
}

/** True while a staged deployment is on trial (and no fallback is recorded). */
export function trialPending(kind: LoaderKind, env: BootEnv): boolean {
  if (fallbackPending(kind, env)) return false;
  if (kind === 'uboot') return env[UBOOT_VAR.upgradeAvailable] === '1';
  const counter = env[GRUB_VAR.counter];
  return counter !== undefined && counter !== '' && env[GRUB_VAR.success] !== '1';
}

/** The first loadable entry in preference order, among those the boot loader sees. */
function pickEntry(preferred: EntryIndex, ctx: BootContext): EntryIndex | null {
  const order: EntryIndex[] = preferred === 0 ? [0, 1] : [1, 0];
  for (const i of order) {
    if (i >= ctx.entries) continue;
    if (ctx.loadable?.[i] === false) continue;
    return i;
  }
  return null;
}

function without(env: BootEnv, ...names: string[]): Record<string, string> {
  const out: Record<string, string> = { ...env };
  for (const n of names) delete out[n];
  return out;
}

/**
 * One boot through uboot/boot.cmd. A recorded fallback keeps entry 1. On trial, the
 * script spends a try and saves; once the tries exceed the budget it records the fallback,
 * clears the trial and boots entry 1. When the save fails it does not risk the unconfirmed
 * deployment and boots entry 1 without recording anything. An entry that cannot be loaded
 * is skipped for the other one.
 */
export function ubootBoot(env: BootEnv, ctx: BootContext): BootResult {
  let preferred: EntryIndex = 0;
  let next: BootEnv | null = null;
  if (env[UBOOT_VAR.fallback] === '1') {
    preferred = 1;
  } else if (env[UBOOT_VAR.upgradeAvailable] === '1') {
    const limit = ubootLimit(env);
    const count = ubootCount(env, limit) + 1;
    const changed: Record<string, string> = { ...env, [UBOOT_VAR.bootcount]: String(count) };
    if (count > limit) {
      changed[UBOOT_VAR.upgradeAvailable] = '0';
      changed[UBOOT_VAR.fallback] = '1';
      preferred = 1;
    }
    next = changed;
  }
  let stored = next ?? env;
  let saved = next !== null;
  if (next !== null && ctx.saveFails) {
    stored = env;
    saved = false;
    preferred = 1;
  }
  return { entry: pickEntry(preferred, ctx), preferred, env: stored, saved };
}

/**
 * One boot through grub/canopy.cfg (greenboot semantics): `boot_counter` -1 keeps entry 1;
 * a set counter with `boot_success` not 1 counts down 9..1, and at 0 (or any other value)
 * becomes -1 and selects entry 1. `boot_success` is reset to 0 at every boot. GRUB's
 * `fallback` variable makes an entry that fails to load boot the other one.
 */
export function grubBoot(env: BootEnv, ctx: BootContext): BootResult {
  const counter = env[GRUB_VAR.counter];
  const next: Record<string, string> = { ...env };
  let preferred: EntryIndex = 0;
  if (counter === '-1') {
    preferred = 1;
  } else if (counter !== undefined && counter !== '' && env[GRUB_VAR.success] !== '1') {
    if (isDigit(counter, 1, 9)) {
      next[GRUB_VAR.counter] = String(Number(counter) - 1);
    } else {
      next[GRUB_VAR.counter] = '-1';
      preferred = 1;
    }
  }
  next[GRUB_VAR.success] = '0';
  const saved = next[GRUB_VAR.counter] !== counter || env[GRUB_VAR.success] !== '0';
  return { entry: pickEntry(preferred, ctx), preferred, env: saved ? next : env, saved };
}

/** {@link ubootBoot} or {@link grubBoot}. */
export function bootOnce(kind: LoaderKind, env: BootEnv, ctx: BootContext): BootResult {
  return kind === 'uboot' ? ubootBoot(env, ctx) : grubBoot(env, ctx);
}

function stateError(kind: LoaderKind, action: string, why: string): CanopyError {
  return new CanopyError('ERR_BOOT_STATE', `${action}: ${why} (${kind === 'uboot' ? 'U-Boot' : 'GRUB'} boot state)`, { loader: kind, action });
}

/**
 * The env write of staging: a trial with `tries` boots for the deployment that the entry
 * write which follows puts first. Write this env BEFORE the entries: a power cut in between
 * then puts the running, known-good deployment on trial, never the new one unwatched.
 *
 * @throws ERR_INVALID_ARGUMENT for a budget outside TRIES_MIN..TRIES_MAX.
 * @throws ERR_BOOT_STATE while a fallback is recorded (finish the rollback first).
 */
export function stageUpdate(kind: LoaderKind, env: BootEnv, options: { tries?: number } = {}): BootEnv {
  const tries = options.tries ?? TRIES_DEFAULT;
  assertTries(tries);
  if (fallbackPending(kind, env)) throw stateError(kind, 'stage', 'a fallback is recorded; finish the rollback first');
  if (kind === 'uboot') {
    return {
      ...without(env, UBOOT_VAR.fallback, UBOOT_VAR.failed),
      [UBOOT_VAR.upgradeAvailable]: '1', [UBOOT_VAR.bootcount]: '0', [UBOOT_VAR.bootlimit]: String(tries),
    };
  }
  return { ...without(env, GRUB_VAR.failed), [GRUB_VAR.counter]: String(tries), [GRUB_VAR.success]: '0' };
}

/**
 * The env write of a passed health check: the running default deployment is confirmed.
 *
 * @throws ERR_BOOT_STATE while a fallback is recorded: confirming then would make the
 *   failed deployment the default again.
 */
export function markGood(kind: LoaderKind, env: BootEnv): BootEnv {
  if (fallbackPending(kind, env)) throw stateError(kind, 'mark-good', 'a fallback is recorded; finish the rollback instead');
  if (kind === 'uboot') {
    return { ...without(env, UBOOT_VAR.failed), [UBOOT_VAR.upgradeAvailable]: '0', [UBOOT_VAR.bootcount]: '0' };
  }
  return { ...without(env, GRUB_VAR.counter, GRUB_VAR.failed), [GRUB_VAR.success]: '1' };
}

/**
 * The env write of a failed health check on a trial: spends the whole budget and records
 * the failure, so that the next boot falls back. The agent reboots after writing it.
 *
 * @throws ERR_BOOT_STATE when no trial is pending (a confirmed deployment has nothing to
 *   fall back from automatically).
 */
export function markBad(kind: LoaderKind, env: BootEnv): BootEnv {
  if (!trialPending(kind, env)) throw stateError(kind, 'mark-bad', 'no trial is pending');
  if (kind === 'uboot') {
    return { ...env, [UBOOT_VAR.bootcount]: String(ubootLimit(env)), [UBOOT_VAR.failed]: '1' };
  }
  return { ...env, [GRUB_VAR.counter]: '0', [GRUB_VAR.success]: '0', [GRUB_VAR.failed]: '1' };
}

/**
 * The env write that ends a rollback. Write it AFTER the entries that list the running
 * deployment alone: a power cut in between then still boots it.
 */
export function finishRollback(kind: LoaderKind, env: BootEnv): BootEnv {
  if (kind === 'uboot') {
    return { ...without(env, UBOOT_VAR.fallback, UBOOT_VAR.failed), [UBOOT_VAR.upgradeAvailable]: '0', [UBOOT_VAR.bootcount]: '0' };
  }
  return without(env, GRUB_VAR.counter, GRUB_VAR.failed);
}

/**
 * Reads a boot: did the device fall back to the previous deployment, and why?
 * `booted` is the entry the running system came from (matched from /proc/cmdline).
 */
export function detectFallback(kind: LoaderKind, env: BootEnv, booted: EntryIndex): FallbackVerdict {
  const failedName = kind === 'uboot' ? UBOOT_VAR.failed : GRUB_VAR.failed;
  if (fallbackPending(kind, env)) {
    return { fellBack: true, reason: env[failedName] === '1' ? 'health-check' : 'tries-exhausted' };
  }
  if (booted === 1) return { fellBack: true, reason: 'not-recorded' };
  return { fellBack: false };
}

/** A summary of the recorded state for status reports. */
export function describeBootState(kind: LoaderKind, env: BootEnv): BootStateSummary {
  const summary: BootStateSummary = {
    trial: trialPending(kind, env),
    fallback: fallbackPending(kind, env),
    healthFailed: env[kind === 'uboot' ? UBOOT_VAR.failed : GRUB_VAR.failed] === '1',
  };
  if (summary.trial) {
    if (kind === 'uboot') {
      const limit = ubootLimit(env);
      summary.triesLeft = limit - ubootCount(env, limit);
    } else {
      const c = env[GRUB_VAR.counter];
      summary.triesLeft = isDigit(c, 0, 9) ? Number(c) : 0;
    }
  }
  return summary;
}

/** The contract's variable names for one loader, in a stable order. */
export function contractVariables(kind: LoaderKind): readonly string[] {
  return kind === 'uboot' ? Object.values(UBOOT_VAR) : Object.values(GRUB_VAR);
}
