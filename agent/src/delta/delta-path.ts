/**
 * Names and paths of static deltas.
 *
 * - A delta's *name* is hex: `FROM-TO`, or `TO` for a delta from nothing
 *   ("scratch"). It keys the summary's and the delta index's dictionaries.
 * - Its *directory* uses the modified base64 of the checksums (standard
 *   base64, no `=`, `/` replaced by `_`, `+` kept):
 *   `deltas/<mb(F)[0:2]>/<mb(F)[2:]>-<mb(T)>` or `deltas/<mb(T)[0:2]>/<mb(T)[2:]>`.
 *   It holds `superblock` and the parts `0`, `1`, ...
 * - Inline parts and the target's detached metadata live in the superblock
 *   metadata under `<directory>/<i>` and `<directory>/commitmeta`.
 */
import { assertChecksum, checksumToMbase64 } from '../core/bytes';
import { CanopyError } from '../core/errors';

/** The two ends of a delta; `from` is null for a scratch delta. */
export interface DeltaEnds {
  from: string | null;
  to: string;
}

/** `FROM-TO` or `TO`. */
export function deltaName(from: string | null, to: string): string {
  assertChecksum(to, 'delta target');
  return from === null ? to : `${assertChecksum(from, 'delta source')}-${to}`;
}

/**
 * Splits a delta name.
 *
 * @throws CanopyError ERR_CHECKSUM_INVALID when a half is not a checksum.
 */
export function parseDeltaName(name: string): DeltaEnds {
  const dash = name.indexOf('-');
  if (dash < 0) return { from: null, to: assertChecksum(name, 'delta name') };
  return { from: assertChecksum(name.slice(0, dash), 'delta source'), to: assertChecksum(name.slice(dash + 1), 'delta target') };
}

/** The delta's directory relative to the repository, without a trailing slash. */
export function deltaDir(from: string | null, to: string): string {
  const t = checksumToMbase64(to);
  if (from === null) return `deltas/${t.slice(0, 2)}/${t.slice(2)}`;
  const f = checksumToMbase64(from);
  return `deltas/${f.slice(0, 2)}/${f.slice(2)}-${t}`;
}

/** `<deltaDir>/superblock`. */
export function deltaSuperblockPath(from: string | null, to: string): string {
  return `${deltaDir(from, to)}/superblock`;
}

/** `<deltaDir>/<index>`: where part `index` is stored when not inline. */
export function deltaPartPath(from: string | null, to: string, index: number): string {
  if (!Number.isSafeInteger(index) || index < 0) throw new CanopyError('ERR_INVALID_ARGUMENT', `invalid part index ${index}`);
  return `${deltaDir(from, to)}/${index}`;
}

/** Superblock metadata key of an inline part. */
export function inlinePartKey(from: string | null, to: string, index: number): string {
  return deltaPartPath(from, to, index);
}

/** Superblock metadata key of the target commit's detached metadata. */
export function commitMetaKey(from: string | null, to: string): string {
  return `${deltaDir(from, to)}/commitmeta`;
}

/** `delta-indexes/<mb(T)[0:2]>/<mb(T)[2:]>.index`. */
export function deltaIndexPath(to: string): string {
  const t = checksumToMbase64(to);
  return `delta-indexes/${t.slice(0, 2)}/${t.slice(2)}.index`;
}
