/**
 * Decompression of `.xz` containers, as OSTree writes static-delta parts
 * (`xz --list -vv` on a real part: one stream, one block, check CRC64,
 * filter chain `--lzma2=dict=32MiB`, no BCJ, sizes not in the block header).
 *
 * Design: one-shot and bounded. The stream's index (at its end) declares
 * every block's uncompressed size; their sum is checked against the
 * caller's `maxSize` *before* anything is allocated, then one buffer of
 * exactly that size is allocated and the blocks are decoded into it (the
 * buffer doubles as the LZMA dictionary, so a 32 MiB dictionary costs
 * nothing extra). Each block must then produce exactly what the index
 * says, so a lying index fails instead of growing the output. Checks
 * supported: none, CRC32, CRC64, SHA-256; filters: LZMA2, alone or after
 * the x86 branch filter (bcj-x86.ts; the generator uses it for x86
 * executables); others are refused with ERR_XZ_UNSUPPORTED. Concatenated streams
 * and stream padding are accepted.
 */
import { createHash } from 'node:crypto';
import { CanopyError } from '../core/errors';
import { crc32, crc64 } from './crc';
import { bcjX86Decode } from './bcj-x86';
import { decodeLzma2 } from './lzma2';

const MAGIC = [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00];
const FOOTER_MAGIC = [0x59, 0x5a];
const FILTER_LZMA2 = 0x21;
const FILTER_X86 = 0x04;
const CHECK_SIZES = [0, 4, 4, 4, 8, 8, 8, 16, 16, 16, 32, 32, 32, 64, 64, 64];
/** More index records than this is treated as hostile. */
const MAX_BLOCKS = 1 << 20;

export interface XzDecompressOptions {
  /** Largest total uncompressed size accepted (required: the bomb guard). */
  maxSize: number;
  /**
   * Skip the blocks' CRC/SHA-256 checks, for input whose bytes were already
   * authenticated (a delta part matching the sha256 in its header). Decoding
   * stays bounded and total without them.
   */
  skipCheck?: boolean;
}

function corrupt(why: string, at: number): CanopyError {
  return new CanopyError('ERR_XZ_CORRUPT', `xz: ${why} (at byte ${at})`, { at });
}

/** True when `data` starts with the xz stream magic. */
export function isXz(data: Uint8Array): boolean {
  return data.length >= 6 && MAGIC.every((b, i) => data[i] === b);
}

function u32le(d: Uint8Array, p: number): number {
  return (d[p] | (d[p + 1] << 8) | (d[p + 2] << 16)) + d[p + 3] * 0x1000000;
}

/** xz's own multibyte integer: 7 bits per byte, at most 9 bytes, minimal. */
function readXzVli(d: Uint8Array, pos: number, end: number, what: string): { value: number; next: number } {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 9; i++) {
    if (pos + i >= end) throw corrupt(`${what} is truncated`, pos);
    const b = d[pos + i];
    if (b === 0 && i > 0) throw corrupt(`${what} is not minimally encoded`, pos);
    value += (b & 0x7f) * scale;
    if (value > Number.MAX_SAFE_INTEGER) throw corrupt(`${what} is too large`, pos);
    if ((b & 0x80) === 0) return { value, next: pos + i + 1 };
    scale *= 128;
  }
  throw corrupt(`${what} is longer than 9 bytes`, pos);
}

interface BlockRecord {
  unpadded: number;
  uncompressed: number;
}

interface StreamLayout {
  start: number;
  checkType: number;
  blocks: BlockRecord[];
  indexStart: number;
}

function parseStreamFlags(d: Uint8Array, p: number): number {
  if (d[p] !== 0 || (d[p + 1] & 0xf0) !== 0) throw corrupt('reserved stream flags are set', p);
  return d[p + 1] & 0x0f;
}

/** Reads one stream backwards from `end` (just past its footer). */
function locateStream(d: Uint8Array, end: number, minStart: number): StreamLayout {
  const f = end - 12;
  if (f < minStart + 12) throw corrupt('input is too short for an xz stream', minStart);
  if (d[f + 10] !== FOOTER_MAGIC[0] || d[f + 11] !== FOOTER_MAGIC[1]) throw corrupt('stream footer magic is missing', f + 10);
  if (crc32(d, f + 4, f + 10) !== u32le(d, f)) throw corrupt('stream footer CRC32 mismatch', f);
  const checkType = parseStreamFlags(d, f + 8);
  const indexSize = (u32le(d, f + 4) + 1) * 4;
  const indexStart = f - indexSize;
  if (indexStart < minStart + 12) throw corrupt('index size points before the stream header', f + 4);
  const blocks = parseIndex(d, indexStart, f);
  let blockBytes = 0;
  for (const b of blocks) blockBytes += Math.ceil(b.unpadded / 4) * 4;
  const start = indexStart - blockBytes - 12;
  if (start < minStart) throw corrupt('index lists more block bytes than the input holds', indexStart);
  if (!MAGIC.every((b, i) => d[start + i] === b)) throw corrupt('stream header magic is missing', start);
  if (crc32(d, start + 6, start + 8) !== u32le(d, start + 8)) throw corrupt('stream header CRC32 mismatch', start + 8);
  if (parseStreamFlags(d, start + 6) !== checkType) throw corrupt('stream header and footer flags differ', start + 6);
  return { start, checkType, blocks, indexStart };
}

function parseIndex(d: Uint8Array, start: number, end: number): BlockRecord[] {
  if (d[start] !== 0) throw corrupt('index indicator is not 0x00', start);
  if (end - start < 8) throw corrupt('index is too short', start);
  const crcAt = end - 4;
  if (crc32(d, start, crcAt) !== u32le(d, crcAt)) throw corrupt('index CRC32 mismatch', crcAt);
  let { value: count, next: p } = readXzVli(d, start + 1, crcAt, 'index record count');
  if (count > MAX_BLOCKS || count > (crcAt - p) / 2) throw corrupt(`index claims ${count} blocks`, start + 1);
  const blocks: BlockRecord[] = [];
  for (let i = 0; i < count; i++) {
    const u = readXzVli(d, p, crcAt, 'unpadded size');
    const s = readXzVli(d, u.next, crcAt, 'uncompressed size');
    if (u.value < 5) throw corrupt('unpadded block size is too small', p);
    blocks.push({ unpadded: u.value, uncompressed: s.value });
    p = s.next;
  }
  if (crcAt - p > 3) throw corrupt('index has bytes after its records', p);
  for (; p < crcAt; p++) if (d[p] !== 0) throw corrupt('index padding is not zero', p);
  return blocks;
}

/**
 * Checks an xz container's structure from its end (stream footers,
 * indexes, padding) without decoding anything, and returns its streams and
 * the total uncompressed size its indexes declare. Throws ERR_XZ_CORRUPT,
 * ERR_XZ_UNSUPPORTED, or ERR_DECOMPRESS_TOO_LARGE past `maxSize`.
 */
function layout(data: Uint8Array, maxSize: number): { streams: StreamLayout[]; total: number } {
  if (!Number.isSafeInteger(maxSize) || maxSize < 0) {
    throw new CanopyError('ERR_INVALID_ARGUMENT', `xzDecompress: maxSize must be a non-negative integer, got ${maxSize}`);
  }
  if (!isXz(data)) throw corrupt('not an xz stream (magic bytes missing)', 0);
  // Walk the streams backwards from the end, skipping stream padding.
  const streams: StreamLayout[] = [];
  let end = data.length;
  let total = 0;
  // Every part of a stream is a multiple of 4 bytes, and so is stream padding.
  if ((data.length & 3) !== 0) throw corrupt(`size ${data.length} is not a multiple of 4 (truncated?)`, data.length);
  while (end > 0) {
    while (end >= 4 && data[end - 1] === 0 && data[end - 2] === 0 && data[end - 3] === 0 && data[end - 4] === 0) end -= 4;
    if (end === 0) throw corrupt('input is only padding', 0);
    const s = locateStream(data, end, 0);
    for (const b of s.blocks) {
      total += b.uncompressed;
      if (total > maxSize) {
        throw new CanopyError('ERR_DECOMPRESS_TOO_LARGE', `xz: the data declares more than ${maxSize} uncompressed bytes`, { limit: maxSize });
      }
    }
    streams.unshift(s);
    end = s.start;
  }
  return { streams, total };
}

/** The uncompressed size an xz container's indexes declare, after the structure checks of {@link xzDecompress}. */
export function xzDeclaredSize(data: Uint8Array, maxSize: number): number {
  return layout(data, maxSize).total;
}

/**
 * Decompresses a complete `.xz` file held in memory.
 *
 * @param data the compressed bytes (one or more streams, optional padding)
 * @param opts `maxSize`: the most bytes the caller accepts
 * @returns the uncompressed bytes
 * @throws CanopyError ERR_DECOMPRESS_TOO_LARGE when the index declares more
 *   than `maxSize` bytes (checked before allocating); ERR_XZ_CORRUPT for a
 *   malformed, truncated or check-failing input; ERR_XZ_UNSUPPORTED for a
 *   filter other than LZMA2 or an unknown check type.
 */
export function xzDecompress(data: Uint8Array, opts: XzDecompressOptions): Uint8Array {
  const { streams, total } = layout(data, opts.maxSize);
  const out = new Uint8Array(total);
  let o = 0;
  for (const s of streams) o = decodeStream(data, s, out, o, opts.skipCheck === true);
  return out;
}

function decodeStream(d: Uint8Array, s: StreamLayout, out: Uint8Array, outPos: number, skipCheck: boolean): number {
  let p = s.start + 12;
  let o = outPos;
  const checkSize = CHECK_SIZES[s.checkType];
  if (s.checkType !== 0 && s.checkType !== 1 && s.checkType !== 4 && s.checkType !== 10) {
    throw new CanopyError('ERR_XZ_UNSUPPORTED', `xz: check type ${s.checkType} is not supported`, { check: s.checkType });
  }
  for (const rec of s.blocks) {
    const blockStart = p;
    const { dictSize, dataStart, x86 } = parseBlockHeader(d, p, s.indexStart);
    const dataEnd = blockStart + rec.unpadded - checkSize;
    if (dataEnd <= dataStart || dataEnd > s.indexStart) throw corrupt('block sizes in the index do not fit the block', blockStart);
    const r = decodeLzma2(d, dataStart, dataEnd, out, o, o + rec.uncompressed, dictSize);
    if (r.inPos !== dataEnd) throw corrupt('compressed block size differs from the index', r.inPos);
    if (r.outPos !== o + rec.uncompressed) throw corrupt(`block decoded to ${r.outPos - o} bytes, the index says ${rec.uncompressed}`, blockStart);
    if (x86 !== undefined) bcjX86Decode(out, o, r.outPos, x86);
    p = dataEnd;
    while ((p - blockStart) & 3) {
      if (d[p] !== 0) throw corrupt('block padding is not zero', p);
      p++;
    }
    if (!skipCheck) verifyCheck(s.checkType, out.subarray(o, r.outPos), d.subarray(p, p + checkSize), p);
    p += checkSize;
    o = r.outPos;
  }
  if (p !== s.indexStart) throw corrupt('blocks do not end where the index starts', p);
  return o;
}

function parseBlockHeader(d: Uint8Array, p: number, limit: number): { dictSize: number; dataStart: number; x86?: number } {
  if (d[p] === 0) throw corrupt('expected a block header, found the index', p);
  const size = (d[p] + 1) * 4;
  const end = p + size;
  if (end > limit) throw corrupt('block header runs past the blocks', p);
  if (crc32(d, p, end - 4) !== u32le(d, end - 4)) throw corrupt('block header CRC32 mismatch', end - 4);
  const flags = d[p + 1];
  if (flags & 0x3c) throw corrupt('reserved block flags are set', p + 1);
  const filters = (flags & 3) + 1;
  let q = p + 2;
  if (flags & 0x40) q = readXzVli(d, q, end - 4, 'block compressed size').next;
  if (flags & 0x80) q = readXzVli(d, q, end - 4, 'block uncompressed size').next;
  let dictSize = -1;
  let x86: number | undefined;
  for (let i = 0; i < filters; i++) {
    const id = readXzVli(d, q, end - 4, 'filter id');
    const propSize = readXzVli(d, id.next, end - 4, 'filter properties size');
    q = propSize.next;
    if (propSize.value > end - 4 - q) throw corrupt('filter properties run past the block header', q);
    if (id.value === FILTER_X86 && i === 0 && filters === 2) {
      // x86 branch conversion before LZMA2: no properties, or a 4-byte start offset.
      if (propSize.value !== 0 && propSize.value !== 4) throw corrupt('x86 filter properties are neither empty nor 4 bytes', q);
      x86 = propSize.value === 4 ? u32le(d, q) : 0;
      q += propSize.value;
      continue;
    }
    if (id.value !== FILTER_LZMA2 || i !== filters - 1) {
      throw new CanopyError('ERR_XZ_UNSUPPORTED', `xz: filter 0x${id.value.toString(16)} is not supported (LZMA2, optionally after x86, is)`, { filter: id.value });
    }
    if (propSize.value !== 1) throw corrupt('LZMA2 properties are not one byte', q);
    const bits = d[q];
    if (bits > 40) throw corrupt(`LZMA2 dictionary size byte ${bits} is out of range`, q);
    dictSize = bits === 40 ? 0xffffffff : (2 | (bits & 1)) * 2 ** ((bits >>> 1) + 11);
    q += propSize.value;
  }
  for (; q < end - 4; q++) if (d[q] !== 0) throw corrupt('block header padding is not zero', q);
  return { dictSize, dataStart: end, x86 };
}

function verifyCheck(type: number, data: Uint8Array, stored: Uint8Array, at: number): void {
  let ok = true;
  if (type === 1) {
    const c = crc32(data);
    ok = stored[0] === (c & 0xff) && stored[1] === ((c >>> 8) & 0xff) && stored[2] === ((c >>> 16) & 0xff) && stored[3] === c >>> 24;
  } else if (type === 4) {
    const c = crc64(data);
    for (let i = 0; i < 8; i++) if (c[i] !== stored[i]) ok = false;
  } else if (type === 10) {
    const h = createHash('sha256').update(data).digest();
    ok = Buffer.compare(h, stored) === 0;
  }
  if (!ok) throw corrupt(`block integrity check (type ${type}) does not match its content`, at);
}
