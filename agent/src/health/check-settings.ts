/**
 * Per-check settings: how long a check may run and how often it is retried.
 *
 * Sources, later wins: the defaults (60 s, no retries), the check's settings file
 * `NAME.json` beside it (layered like the checks), and the agent's configuration keyed
 * `"<dir>/<name>"`, e.g. `"required.d/20-canopy-agent"`.
 *
 * A settings file is a JSON object with any of:
 *
 * ```json
 * { "timeoutSec": 120, "retries": 2, "retryDelaySec": 5 }
 * ```
 *
 * Retries, a decision: greenboot has no per-check retries; its only retry is the boot
 * itself (`GREENBOOT_MAX_BOOT_ATTEMPTS` boots, which Canopy's try budget replaces). A check
 * that races the boot (network, a slow service) is better retried in place than by a
 * reboot, so `required.d` and `wanted.d` checks may ask for up to 10 retries; hooks are
 * never retried. A retried check passes when any attempt passes.
 */
import { readFile } from 'node:fs/promises';
import { CanopyError, ioError } from '../core/errors';

/** Settings of one check, in milliseconds. */
export interface CheckSettings {
  timeoutMs: number;
  retries: number;
  retryDelayMs: number;
}

/** The defaults. */
export const DEFAULT_CHECK_SETTINGS: Readonly<CheckSettings> = { timeoutMs: 60_000, retries: 0, retryDelayMs: 1_000 };

/** Largest settings file read. */
export const SETTINGS_FILE_MAX = 4096;
/** Longest timeout a check may ask for (one hour). */
export const TIMEOUT_MAX_SEC = 3600;
/** Most retries a check may ask for. */
export const RETRIES_MAX = 10;
/** Longest pause between retries. */
export const RETRY_DELAY_MAX_SEC = 600;

const FIELDS: Record<string, { key: keyof CheckSettings; min: number; max: number; scale: number; integer: boolean }> = {
  timeoutSec: { key: 'timeoutMs', min: 0.001, max: TIMEOUT_MAX_SEC, scale: 1000, integer: false },
  retries: { key: 'retries', min: 0, max: RETRIES_MAX, scale: 1, integer: true },
  retryDelaySec: { key: 'retryDelayMs', min: 0, max: RETRY_DELAY_MAX_SEC, scale: 1000, integer: false },
};

function invalid(where: string, why: string): CanopyError {
  return new CanopyError('ERR_CONFIG_INVALID', `${where}: ${why}`, { path: where });
}

/**
 * Parses a settings object (from a file or the configuration).
 *
 * @throws ERR_CONFIG_INVALID for anything but an object of the known fields in range.
 */
export function checkSettingsFrom(value: unknown, where: string): Partial<CheckSettings> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid(where, 'expected a JSON object');
  const out: Partial<CheckSettings> = {};
  for (const [name, v] of Object.entries(value)) {
    const f = FIELDS[name];
    if (!f) throw invalid(where, `unknown setting ${JSON.stringify(name)} (known: ${Object.keys(FIELDS).join(', ')})`);
    if (typeof v !== 'number' || !Number.isFinite(v) || v < f.min || v > f.max || (f.integer && !Number.isInteger(v))) {
      throw invalid(where, `${name} must be ${f.integer ? 'an integer' : 'a number'} in ${f.min}..${f.max}, not ${JSON.stringify(v)}`);
    }
    out[f.key] = Math.round(v * f.scale);
  }
  return out;
}

/**
 * Reads a check's settings file.
 *
 * @throws ERR_CONFIG_INVALID for a file that is too large, not JSON or not valid settings;
 *   ERR_IO when it cannot be read.
 */
export async function readCheckSettings(path: string): Promise<Partial<CheckSettings>> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (e) {
    throw ioError(e, 'read check settings', path);
  }
  if (bytes.length > SETTINGS_FILE_MAX) throw invalid(path, `larger than ${SETTINGS_FILE_MAX} bytes`);
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch (e) {
    throw invalid(path, `not JSON (${(e as Error).message})`);
  }
  return checkSettingsFrom(value, path);
}

/** Merges the sources, later wins. */
export function resolveCheckSettings(...sources: ReadonlyArray<Partial<CheckSettings> | undefined>): CheckSettings {
  const out: CheckSettings = { ...DEFAULT_CHECK_SETTINGS };
  for (const s of sources) {
    if (!s) continue;
    if (s.timeoutMs !== undefined) out.timeoutMs = s.timeoutMs;
    if (s.retries !== undefined) out.retries = s.retries;
    if (s.retryDelayMs !== undefined) out.retryDelayMs = s.retryDelayMs;
  }
  return out;
}
