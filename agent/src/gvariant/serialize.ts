/**
 * GVariant serializer: values in, normal-form bytes out. Framing offsets
 * are little-endian; integers are written little-endian (what GLib writes
 * on every machine OSTree runs on), and OSTree's big-endian fields are
 * swapped by the object layer, not here.
 */
import { CanopyError } from '../core/errors';
import { alignUp, chooseOffsetWidth, parseType, type GType } from './type';
import { Variant, type GValue } from './value';

/** Serializes `value` as type `type` (a type string) in normal form. */
export function serialize(type: string | GType, value: GValue): Buffer {
  const t = typeof type === 'string' ? parseType(type) : type;
  return write(t, value);
}

function bad(t: GType, value: unknown, why: string): CanopyError {
  const shown = typeof value === 'bigint' ? `${value}n` : typeof value === 'object' && value !== null ? (value.constructor?.name ?? 'object') : JSON.stringify(value);
  return new CanopyError('ERR_INVALID_ARGUMENT', `cannot serialize ${String(shown).slice(0, 80)} as GVariant ${t.str}: ${why}`, { type: t.str });
}

/** Writes framing offsets of `width` bytes, little-endian, from `at`. */
export function writeOffsets(out: Buffer, at: number, offsets: number[], width: number): void {
  for (let i = 0; i < offsets.length; i++) {
    const pos = at + i * width;
    const v = offsets[i];
    if (width === 1) out[pos] = v;
    else if (width === 2) out.writeUInt16LE(v, pos);
    else if (width === 4) out.writeUInt32LE(v, pos);
    else out.writeBigUInt64LE(BigInt(v), pos);
  }
}

function write(t: GType, v: GValue): Buffer {
  switch (t.kind) {
    case 'basic': return writeBasic(t, v);
    case 'variant': {
      if (!(v instanceof Variant)) throw bad(t, v, 'expected a Variant');
      const inner = parseType(v.type);
      const body = write(inner, v.value);
      return Buffer.concat([body, Buffer.from([0]), Buffer.from(v.type, 'ascii')]);
    }
    case 'maybe': {
      if (v === null) return Buffer.alloc(0);
      const body = write(t.elem, v);
      return t.elem.fixedSize !== undefined ? body : Buffer.concat([body, Buffer.from([0])]);
    }
    case 'array': return writeArray(t, v);
    case 'tuple': return writeTuple(t, v);
  }
}

function writeBasic(t: GType & { kind: 'basic' }, v: GValue): Buffer {
  const code = t.code;
  if (code === 's' || code === 'o' || code === 'g') {
    if (typeof v !== 'string') throw bad(t, v, 'expected a string');
    if (v.includes('\0')) throw bad(t, v, 'strings cannot contain NUL');
    const b = Buffer.from(v + '\0', 'utf8');
    return b;
  }
  const b = Buffer.alloc(t.fixedSize!);
  switch (code) {
    case 'b':
      if (typeof v !== 'boolean') throw bad(t, v, 'expected a boolean');
      b[0] = v ? 1 : 0; break;
    case 'y': intIn(t, v, 0, 0xff); b[0] = v as number; break;
    case 'n': intIn(t, v, -0x8000, 0x7fff); b.writeInt16LE(v as number); break;
    case 'q': intIn(t, v, 0, 0xffff); b.writeUInt16LE(v as number); break;
    case 'i': case 'h': intIn(t, v, -0x80000000, 0x7fffffff); b.writeInt32LE(v as number); break;
    case 'u': intIn(t, v, 0, 0xffffffff); b.writeUInt32LE(v as number); break;
    case 'x':
      if (typeof v !== 'bigint' || v < -(1n << 63n) || v >= 1n << 63n) throw bad(t, v, 'expected a 64-bit signed bigint');
      b.writeBigInt64LE(v); break;
    case 't':
      if (typeof v !== 'bigint' || v < 0n || v >= 1n << 64n) throw bad(t, v, 'expected a 64-bit unsigned bigint');
      b.writeBigUInt64LE(v); break;
    case 'd':
      if (typeof v !== 'number') throw bad(t, v, 'expected a number');
      b.writeDoubleLE(v); break;
  }
  return b;
}

function intIn(t: GType, v: GValue, min: number, max: number): void {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw bad(t, v, `expected an integer in [${min}, ${max}]`);
}

function writeArray(t: GType & { kind: 'array' }, v: GValue): Buffer {
  const elem = t.elem;
  if (elem.kind === 'basic' && elem.code === 'y') {
    if (!(v instanceof Uint8Array)) throw bad(t, v, 'expected a Uint8Array');
    return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  }
  if (!Array.isArray(v)) throw bad(t, v, 'expected an array');
  if (v.length === 0) return Buffer.alloc(0);
  if (elem.fixedSize !== undefined) return Buffer.concat(v.map((x) => write(elem, x)));
  const parts: Buffer[] = [];
  const ends: number[] = [];
  let pos = 0;
  for (const x of v) {
    const pad = alignUp(pos, elem.align) - pos;
    if (pad) { parts.push(Buffer.alloc(pad)); pos += pad; }
    const b = write(elem, x);
    parts.push(b);
    pos += b.length;
    ends.push(pos);
  }
  const width = chooseOffsetWidth(pos, ends.length);
  const out = Buffer.alloc(pos + width * ends.length);
  let o = 0;
  for (const p of parts) { p.copy(out, o); o += p.length; }
  writeOffsets(out, pos, ends, width);
  return out;
}

function writeTuple(t: GType & { kind: 'tuple' }, v: GValue): Buffer {
  if (!Array.isArray(v) || v.length !== t.members.length) throw bad(t, v, `expected an array of ${t.members.length} members`);
  if (t.members.length === 0) return Buffer.from([0]);
  const parts: Buffer[] = [];
  const ends: number[] = [];
  let pos = 0;
  t.members.forEach((m, i) => {
    const pad = alignUp(pos, m.align) - pos;
    if (pad) { parts.push(Buffer.alloc(pad)); pos += pad; }
    const b = write(m, v[i]);
    if (m.fixedSize !== undefined && b.length !== m.fixedSize) throw bad(t, v, 'fixed-size member has the wrong size');
    parts.push(b);
    pos += b.length;
    if (m.fixedSize === undefined && i !== t.members.length - 1) ends.push(pos);
  });
  if (t.fixedSize !== undefined) {
    const pad = t.fixedSize - pos;
    if (pad) parts.push(Buffer.alloc(pad));
    return Buffer.concat(parts);
  }
  const width = chooseOffsetWidth(pos, ends.length);
  const out = Buffer.alloc(pos + width * ends.length);
  let o = 0;
  for (const p of parts) { p.copy(out, o); o += p.length; }
  // Tuples store their framing offsets in reverse member order.
  writeOffsets(out, pos, ends.reverse(), width);
  return out;
}
