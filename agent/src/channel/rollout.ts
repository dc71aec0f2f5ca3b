/**
 * Staged rollouts decided on the device. Every device computes its own
 * bucket for a rollout from a stable hash, so a rollout to any number of
 * devices is one retained announcement and nobody keeps a list.
 *
 * The bucket (exact, portable; PROTOCOL.md repeats it with test vectors):
 *
 *   h = sha256(UTF-8(rolloutId + "\n" + deviceId))
 *   n = the first 8 bytes of h as an unsigned big-endian 64-bit integer
 *   bucket = (n mod 10000) / 100          -> 0.00 … 99.99
 *
 * Waves are cumulative: the device belongs to the first wave whose
 * `percent` is greater than its bucket; it may install when that wave is
 * open. A device whose bucket is at or above the last wave's percent is
 * not part of the rollout yet. Hashing the rollout id with the device id
 * gives each rollout a fresh order, so the same devices are not always the
 * canaries. Pure.
 */
import { createHash } from 'node:crypto';
import type { Announcement, Wave } from './messages';

/** The device's bucket for a rollout, in [0, 100) with two decimals. */
export function rolloutBucket(rolloutId: string, deviceId: string): number {
  const h = createHash('sha256').update(`${rolloutId}\n${deviceId}`, 'utf8').digest();
  const n = h.readBigUInt64BE(0);
  return Number(n % 10000n) / 100;
}

/** Where a device stands in an announcement's rollout. */
export interface WavePlacement {
  bucket: number;
  /** Index of the device's wave, or -1 when no wave covers its bucket yet. */
  index: number;
  /** The device's wave, or undefined when no wave covers it. */
  wave: Wave | undefined;
  /** The device may install the announced commit now. */
  open: boolean;
}

/**
 * Places a device in the rollout of an announcement. Waves are expected
 * in increasing `percent` order (the envelope check refuses others); this
 * function takes the first wave whose percent exceeds the bucket either way.
 */
export function wavePlacement(announcement: Pick<Announcement, 'rollout'>, deviceId: string): WavePlacement {
  const bucket = rolloutBucket(announcement.rollout.id, deviceId);
  // Compare in hundredths as integers so 12.34 vs 12.34 never suffers from float rounding.
  const b = Math.round(bucket * 100);
  const index = announcement.rollout.waves.findIndex((w) => b < Math.round(w.percent * 100));
  const wave = index >= 0 ? announcement.rollout.waves[index] : undefined;
  return { bucket, index, wave, open: wave?.open === true };
}

/** True when the announcement's rollout lets this device install now. */
export function waveOpenFor(announcement: Pick<Announcement, 'rollout'>, deviceId: string): boolean {
  return wavePlacement(announcement, deviceId).open;
}

/**
 * The problem with a rollout's waves, or undefined when they are usable:
 * percents must strictly increase (two decimals at most) and names must be
 * unique.
 */
export function checkWaves(waves: readonly Wave[]): string | undefined {
  const names = new Set<string>();
  let last = 0;
  for (const [i, w] of waves.entries()) {
    const p = Math.round(w.percent * 100);
    if (Math.abs(p - w.percent * 100) > 1e-6) return `rollout.waves[${i}].percent has more than two decimals`;
    if (p <= last) return `rollout.waves[${i}].percent (${w.percent}) must be greater than the previous wave's`;
    if (names.has(w.name)) return `rollout.waves[${i}].name ${JSON.stringify(w.name)} is used twice`;
    names.add(w.name);
    last = p;
  }
  return undefined;
}
