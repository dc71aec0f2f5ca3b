/**
 * GVariant parser for untrusted bytes. It is total (every input either
 * parses or throws a CanopyError), bounded (no allocation larger than the
 * input, nesting limited) and strict: anything that is not in normal form
 * is refused with ERR_GVARIANT_NOT_NORMAL, as OSTree refuses non-normal
 * metadata. `ay` values are returned as views into the input.
 */
import { CanopyError } from '../core/errors';
import { Limits } from '../core/limits';
import { alignUp, offsetWidthForSize, parseType, type GType } from './type';
import { Variant, type GValue } from './value';

export interface ParseOptions {
  /** Refuse inputs longer than this many bytes (default: Limits.maxMetadataSize). */
  maxSize?: number;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Parses normal-form serialized data of type `type`. */
export function parse(type: string | GType, data: Uint8Array, opts: ParseOptions = {}): GValue {
  const t = typeof type === 'string' ? parseType(type) : type;
  const max = opts.maxSize ?? Limits.maxMetadataSize;
  if (data.length > max) {
    throw new CanopyError('ERR_GVARIANT_TOO_LARGE', `GVariant ${t.str} of ${data.length} bytes exceeds the limit of ${max}`, { type: t.str, size: data.length, limit: max });
  }
  return read(t, data, 0, data.length, 0);
}

function notNormal(t: GType, why: string, at: number): CanopyError {
  return new CanopyError('ERR_GVARIANT_NOT_NORMAL', `GVariant ${t.str.slice(0, 60)} is not in normal form: ${why} (at byte ${at})`, { type: t.str.slice(0, 200), why, at });
}

/** Reads a little-endian framing offset of width `w` at `pos`. */
export function readOffset(d: Uint8Array, pos: number, w: number): number {
  switch (w) {
    case 1: return d[pos];
    case 2: return d[pos] | (d[pos + 1] << 8);
    case 4: return (d[pos] | (d[pos + 1] << 8) | (d[pos + 2] << 16)) + d[pos + 3] * 0x1000000;
    default: {
      const lo = (d[pos] | (d[pos + 1] << 8) | (d[pos + 2] << 16)) + d[pos + 3] * 0x1000000;
      const hi = (d[pos + 4] | (d[pos + 5] << 8) | (d[pos + 6] << 16)) + d[pos + 7] * 0x1000000;
      return hi * 0x100000000 + lo;
    }
  }
}

function checkZero(t: GType, d: Uint8Array, from: number, to: number): void {
  for (let i = from; i < to; i++) if (d[i] !== 0) throw notNormal(t, 'non-zero padding', i);
}

function read(t: GType, d: Uint8Array, start: number, end: number, depth: number): GValue {
  if (depth > Limits.maxDepth) throw notNormal(t, 'nested too deeply', start);
  const size = end - start;
  if (t.fixedSize !== undefined && size !== t.fixedSize) {
    throw notNormal(t, `fixed-size value has ${size} bytes, expected ${t.fixedSize}`, start);
  }
  switch (t.kind) {
    case 'basic': return readBasic(t, d, start, end);
    case 'variant': return readVariant(t, d, start, end, depth);
    case 'maybe': {
      if (size === 0) return null;
      if (t.elem.fixedSize !== undefined) return read(t.elem, d, start, end, depth + 1);
      if (d[end - 1] !== 0) throw notNormal(t, 'maybe value lacks its trailing zero byte', end - 1);
      return read(t.elem, d, start, end - 1, depth + 1);
    }
    case 'array': return readArray(t, d, start, end, depth);
    case 'tuple': return readTuple(t, d, start, end, depth);
  }
}

function readBasic(t: GType & { kind: 'basic' }, d: Uint8Array, start: number, end: number): GValue {
  if (t.code === 's' || t.code === 'o' || t.code === 'g') return readString(t, d, start, end);
  const b = Buffer.from(d.buffer, d.byteOffset + start, end - start);
  switch (t.code) {
    case 'y': return b[0];
    case 'b':
      if (b[0] > 1) throw notNormal(t, 'boolean is neither 0 nor 1', start);
      return b[0] === 1;
    case 'n': return b.readInt16LE(0);
    case 'q': return b.readUInt16LE(0);
    case 'i': case 'h': return b.readInt32LE(0);
    case 'u': return b.readUInt32LE(0);
    case 'x': return b.readBigInt64LE(0);
    case 't': return b.readBigUInt64LE(0);
    default: return b.readDoubleLE(0);
  }
}

/**
 * A string (`s`, `o`, `g`): NUL-terminated, no other NUL, valid UTF-8.
 * Names in OSTree metadata are nearly always ASCII, which decodes the same
 * as latin1 without the UTF-8 decoder's per-call cost; anything else goes
 * through the strict decoder.
 */
function readString(t: GType, d: Uint8Array, start: number, end: number): string {
  if (end === start || d[end - 1] !== 0) throw notNormal(t, 'string is not NUL-terminated', end);
  const last = end - 1;
  let ascii = true;
  for (let i = start; i < last; i++) {
    const c = d[i];
    if (c === 0) throw notNormal(t, 'string contains NUL', i);
    if (c >= 0x80) ascii = false;
  }
  if (ascii) return Buffer.from(d.buffer, d.byteOffset + start, last - start).toString('latin1');
  try {
    return utf8.decode(d.subarray(start, last));
  } catch {
    throw notNormal(t, 'string is not valid UTF-8', start);
  }
}

function readVariant(t: GType, d: Uint8Array, start: number, end: number, depth: number): GValue {
  let sep = -1;
  for (let i = end - 1; i >= start; i--) if (d[i] === 0) { sep = i; break; }
  if (sep < 0) throw notNormal(t, 'variant has no type string separator', start);
  const typeStr = Buffer.from(d.buffer, d.byteOffset + sep + 1, end - sep - 1).toString('latin1');
  let inner: GType;
  try {
    inner = parseType(typeStr);
  } catch (e) {
    throw notNormal(t, `variant type ${JSON.stringify(typeStr.slice(0, 40))} is invalid`, sep);
  }
  return new Variant(typeStr, read(inner, d, start, sep, depth + 1));
}

function readArray(t: GType & { kind: 'array' }, d: Uint8Array, start: number, end: number, depth: number): GValue {
  const elem = t.elem;
  const size = end - start;
  if (elem.kind === 'basic' && elem.code === 'y') return d.subarray(start, end);
  if (size === 0) return [];
  if (elem.fixedSize !== undefined) {
    if (size % elem.fixedSize !== 0) throw notNormal(t, `array of ${size} bytes is not a multiple of ${elem.fixedSize}`, start);
    const n = size / elem.fixedSize;
    const out: GValue[] = new Array(n);
    for (let i = 0; i < n; i++) out[i] = read(elem, d, start + i * elem.fixedSize, start + (i + 1) * elem.fixedSize, depth + 1);
    return out;
  }
  const w = offsetWidthForSize(size);
  if (size < w) throw notNormal(t, 'array too short for its offset table', start);
  const tableStart = readOffset(d, end - w, w);
  if (tableStart > size - w) throw notNormal(t, 'offset table start out of range', end - w);
  const tableBytes = size - tableStart;
  if (tableBytes % w !== 0) throw notNormal(t, 'offset table size is not a multiple of the offset width', start + tableStart);
  const n = tableBytes / w;
  if (n === 0) throw notNormal(t, 'array has an offset table but no elements', start);
  const out: GValue[] = new Array(n);
  let pos = 0;
  for (let i = 0; i < n; i++) {
    const elemEnd = readOffset(d, start + tableStart + i * w, w);
    const elemStart = alignUp(pos, elem.align);
    if (elemStart > elemEnd || elemEnd > tableStart) throw notNormal(t, `element ${i} offsets out of order or range`, start + tableStart + i * w);
    checkZero(t, d, start + pos, start + elemStart);
    out[i] = read(elem, d, start + elemStart, start + elemEnd, depth + 1);
    pos = elemEnd;
  }
  if (pos !== tableStart) throw notNormal(t, 'bytes between the last element and the offset table', start + pos);
  return out;
}

function readTuple(t: GType & { kind: 'tuple' }, d: Uint8Array, start: number, end: number, depth: number): GValue {
  const members = t.members;
  const size = end - start;
  if (members.length === 0) {
    if (d[start] !== 0) throw notNormal(t, 'unit value is not 0', start);
    return [];
  }
  const w = t.fixedSize !== undefined ? 0 : offsetWidthForSize(size);
  let tail = size; // where the offset table begins (relative)
  let pos = 0;
  const out: GValue[] = new Array(members.length);
  for (let i = 0; i < members.length; i++) {
    const m = members[i];
    const mStart = alignUp(pos, m.align);
    if (mStart > tail) throw notNormal(t, `member ${i} starts past the end`, start + pos);
    checkZero(t, d, start + pos, start + mStart);
    let mEnd: number;
    if (m.fixedSize !== undefined) {
      mEnd = mStart + m.fixedSize;
    } else if (i === members.length - 1) {
      mEnd = tail;
    } else {
      if (tail < w) throw notNormal(t, 'tuple too short for its offsets', start);
      tail -= w;
      mEnd = readOffset(d, start + tail, w);
      if (mEnd > tail) throw notNormal(t, `member ${i} offset out of range`, start + tail);
    }
    if (mEnd < mStart || mEnd > tail) throw notNormal(t, `member ${i} runs past its end`, start + mStart);
    out[i] = read(m, d, start + mStart, start + mEnd, depth + 1);
    pos = mEnd;
  }
  if (t.fixedSize !== undefined) {
    checkZero(t, d, start + pos, end);
  } else if (pos !== tail) {
    throw notNormal(t, 'bytes left over after the last member', start + pos);
  }
  return out;
}
