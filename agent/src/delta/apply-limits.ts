/**
 * Bounds on what a static delta may make a device read, allocate and write.
 * Every size in a superblock is untrusted until the objects it produces
 * hash to their names, so each declared length is checked against one of
 * these before anything is allocated.
 *
 * How the decompression limit of a part is derived: a part header declares
 * `usize`, the bytes of the objects the part produces (regular-file
 * content and metadata; OSTree counts symlinks as 0 or their target
 * length). The decompressed part is larger than that by its tables,
 * opcodes, symlink targets, rollsum source checksums and the bsdiff
 * control records (24 bytes per record, a few per kilobyte at worst in
 * genuine patches). So a part may decompress to at most
 * `2 * usize + 1 MiB + objects * 4160` bytes (4096 for a symlink target plus
 * 64 for its opcodes and table entries), and never more than
 * {@link DeltaLimits.maxPartDecompressedSize}. OSTree 2026.3 tried a tighter
 * usize + per-object margin and had to drop it because bsdiff streams of
 * large objects passed it; the factor 2 is what covers those.
 */
import { CanopyError } from '../core/errors';
import type { DeltaPartHeader } from './superblock';

export interface DeltaLimits {
  /** Largest superblock file accepted (OSTree's metadata limit is 10 MiB for pulls). */
  maxSuperblockSize: number;
  /** Most parts in one delta. */
  maxParts: number;
  /** Largest part file (compressed) accepted. */
  maxPartFileSize: number;
  /** Largest declared uncompressed object size of one part (`usize`). */
  maxPartObjectsSize: number;
  /** Hard cap on one decompressed part, whatever its header says. */
  maxPartDecompressedSize: number;
  /** Largest old object read whole as a bspatch source. */
  maxSourceSize: number;
  /** Largest sum of `usize` over a whole delta (the total-output budget before the disk check). */
  maxTotalSize: number;
}

const MiB = 1024 * 1024;

/** Defaults: generous for OSTree's 32 MB parts, bounded for a device. */
export const DEFAULT_DELTA_LIMITS: Readonly<DeltaLimits> = Object.freeze({
  maxSuperblockSize: 64 * MiB,
  maxParts: 100_000,
  maxPartFileSize: 1024 * MiB,
  maxPartObjectsSize: 512 * MiB,
  maxPartDecompressedSize: 1024 * MiB,
  maxSourceSize: 512 * MiB,
  maxTotalSize: 64 * 1024 * MiB,
});

/**
 * Fills in the defaults and checks the values.
 *
 * @throws CanopyError ERR_INVALID_ARGUMENT for a value that is not a
 *   non-negative safe integer.
 */
export function resolveDeltaLimits(given: Partial<DeltaLimits> = {}): DeltaLimits {
  const out = { ...DEFAULT_DELTA_LIMITS, ...given };
  for (const [k, v] of Object.entries(out)) {
    if (!Number.isSafeInteger(v) || v < 0) throw new CanopyError('ERR_INVALID_ARGUMENT', `delta limit ${k} must be a non-negative integer, got ${String(v)}`);
  }
  return out;
}

/** The most bytes part `header` may decompress to (see the module notes). */
export function partDecompressLimit(header: DeltaPartHeader, limits: DeltaLimits): number {
  const bound = 2 * header.usize + MiB + header.objects.length * 4160;
  return Math.min(bound, limits.maxPartDecompressedSize);
}
