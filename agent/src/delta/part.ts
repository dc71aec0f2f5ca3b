/**
 * Static-delta part files.
 *
 * A part file is the serialized `(yay)`: one compression byte, then the
 * payload. `0` means the payload is the part itself, `'x'` that it is an
 * xz container (what OSTree always writes). The header in the superblock
 * carries the sha256 of the whole file.
 *
 * The decompressed part is `(a(uuu)aa(ayay)ayay)`: the mode table
 * (uid, gid, mode, all big-endian), the xattr table, the payload blob that
 * opcodes copy from, and the opcode stream (see ops.ts). Tables are
 * deduplicated; opcodes refer to them by index.
 */
import { sha256Hex } from '../core/bytes';
import { CanopyError } from '../core/errors';
import { parse, serialize, type GValue } from '../gvariant/index';
import { bswap32, xattrsFromGValue, xattrsToGValue, type Xattr } from '../objects/index';
import type { DeltaPartHeader } from './superblock';
import { xzDecompress } from './xz';
import { startXzDecompress, type XzJob } from './xz-tool';

export const PART_TYPE = '(a(uuu)aa(ayay)ayay)';
export const COMPRESSION_NONE = 0;
export const COMPRESSION_XZ = 0x78; // 'x'

/** Default cap on a decompressed part (OSTree's default parts are 32 MB of objects). */
export const DEFAULT_MAX_PART_SIZE = 256 * 1024 * 1024;

export interface DeltaMode {
  uid: number;
  gid: number;
  mode: number;
}

export interface DeltaPart {
  modes: DeltaMode[];
  xattrs: Xattr[][];
  payload: Uint8Array;
  ops: Uint8Array;
}

function invalid(why: string, details: Record<string, string | number> = {}): CanopyError {
  return new CanopyError('ERR_DELTA_INVALID', `delta part: ${why}`, details);
}

/**
 * Checks a part file against its header: size and sha256.
 *
 * @throws CanopyError ERR_DELTA_INVALID for a size mismatch,
 *   ERR_CHECKSUM_MISMATCH for a digest mismatch.
 */
export function verifyPartFile(file: Uint8Array, header: DeltaPartHeader, index: number): void {
  if (file.length !== header.size) throw invalid(`part ${index} has ${file.length} bytes, its header says ${header.size}`, { part: index });
  const actual = sha256Hex(file);
  if (actual !== header.checksum) {
    throw new CanopyError('ERR_CHECKSUM_MISMATCH', `delta part ${index}: sha256 ${actual} does not match its header ${header.checksum}`, { part: index, expected: header.checksum, actual });
  }
}

/**
 * Unwraps a part file to the serialized part, decompressing when needed.
 *
 * @param maxSize largest decompressed part accepted
 * @param opts.verified the file already matched its header's sha256: the xz
 *   integrity checks (CRC64 in OSTree's parts) are redundant and skipped
 * @throws CanopyError ERR_DELTA_INVALID for an empty file,
 *   ERR_DELTA_UNSUPPORTED for an unknown compression byte,
 *   ERR_DECOMPRESS_TOO_LARGE past `maxSize`, ERR_XZ_* from decompression.
 */
export function unwrapPartFile(file: Uint8Array, maxSize: number = DEFAULT_MAX_PART_SIZE, opts: { verified?: boolean } = {}): Uint8Array {
  if (file.length < 1) throw invalid('part file is empty');
  const payload = file.subarray(1);
  const kind = file[0];
  if (kind === COMPRESSION_NONE) {
    if (payload.length > maxSize) throw new CanopyError('ERR_DECOMPRESS_TOO_LARGE', `delta part of ${payload.length} bytes exceeds the limit of ${maxSize}`, { limit: maxSize });
    return payload;
  }
  if (kind === COMPRESSION_XZ) return xzDecompress(payload, { maxSize, skipCheck: opts.verified === true });
  throw new CanopyError('ERR_DELTA_UNSUPPORTED', `delta part compression 0x${kind.toString(16)} is not supported`, { compression: kind });
}

/**
 * Starts {@link unwrapPartFile} of a part: an xz part is decompressed by the
 * system's `xz` when there is one (xz-tool.ts), in its own process, so a
 * caller can start the next part while the current one runs; `read` gives
 * the bytes. Same checks, limits and errors (the size checks throw here).
 */
export function startPartUnwrap(file: Uint8Array, maxSize: number = DEFAULT_MAX_PART_SIZE, opts: { verified?: boolean; xzTool?: string | false; scratchDir?: string } = {}): XzJob {
  if (file.length >= 1 && file[0] === COMPRESSION_XZ) return startXzDecompress(file.subarray(1), { maxSize, skipCheck: opts.verified === true, tool: opts.xzTool, scratchDir: opts.scratchDir });
  const bytes = unwrapPartFile(file, maxSize, opts);
  return { read: async () => bytes, cancel: () => undefined };
}

/**
 * Parses a serialized (decompressed) part.
 *
 * @throws CanopyError ERR_GVARIANT_* for malformed bytes, ERR_OBJECT_INVALID
 *   for malformed xattrs.
 */
export function parsePart(data: Uint8Array): DeltaPart {
  const [modes, xattrs, payload, ops] = parse(PART_TYPE, data, { maxSize: Math.max(data.length, 1) }) as [
    [number, number, number][], GValue[], Uint8Array, Uint8Array,
  ];
  return {
    modes: modes.map(([uid, gid, mode]) => ({ uid: bswap32(uid), gid: bswap32(gid), mode: bswap32(mode) })),
    xattrs: xattrs.map((x, i) => xattrsFromGValue(x, `delta part xattr table entry ${i}`)),
    payload,
    ops,
  };
}

/** Verifies, unwraps and parses a part file in one step. */
export function openPartFile(file: Uint8Array, header: DeltaPartHeader, index: number, maxSize: number = DEFAULT_MAX_PART_SIZE): DeltaPart {
  verifyPartFile(file, header, index);
  return parsePart(unwrapPartFile(file, maxSize));
}

/** Serializes a part (uncompressed). */
export function serializePart(part: DeltaPart): Buffer {
  return serialize(PART_TYPE, [
    part.modes.map((m) => [bswap32(m.uid), bswap32(m.gid), bswap32(m.mode)]),
    part.xattrs.map((x) => xattrsToGValue(x)),
    part.payload,
    part.ops,
  ]);
}

/** Wraps a serialized part (already compressed or not) into a part file. */
export function wrapPartFile(compression: typeof COMPRESSION_NONE | typeof COMPRESSION_XZ, payload: Uint8Array): Buffer {
  const out = Buffer.alloc(payload.length + 1);
  out[0] = compression;
  out.set(payload, 1);
  return out;
}
