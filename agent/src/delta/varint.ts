/**
 * Unsigned LEB128 varints as OSTree writes them in static-delta opcode
 * streams (and in `ostree.sizes`): 7 bits per byte, lowest group first, the
 * high bit set on every byte but the last, at most 10 bytes for a 64-bit
 * value.
 *
 * Values are returned as JavaScript numbers. Every quantity a varint carries
 * in OSTree is a size, an offset or a table index, so anything above
 * `Number.MAX_SAFE_INTEGER` (2^53 - 1) is refused rather than rounded.
 * Non-minimal encodings (`80 00` for 0) are accepted, as OSTree accepts
 * them; the length bound keeps them harmless.
 */
import { CanopyError } from '../core/errors';

/** The longest encoding of a 64-bit value. */
export const MAX_VARINT_BYTES = 10;

/** A decoded varint and the position just after it. */
export interface VarintRead {
  value: number;
  next: number;
}

/**
 * Reads one varint from `buf` at `pos`, not reading at or past `end`
 * (default: the end of `buf`).
 *
 * @throws CanopyError ERR_VARINT_INVALID when the input ends inside the
 *   varint, when it runs past 10 bytes, or when the value exceeds 2^53 - 1.
 */
export function readVarint(buf: Uint8Array, pos: number, end: number = buf.length, what = 'varint'): VarintRead {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < MAX_VARINT_BYTES; i++) {
    const at = pos + i;
    if (at >= end) {
      throw new CanopyError('ERR_VARINT_INVALID', `${what} at byte ${pos} is truncated after ${i} byte(s)`, { what, at: pos });
    }
    const b = buf[at];
    value += (b & 0x7f) * scale;
    if (value > Number.MAX_SAFE_INTEGER) {
      throw new CanopyError('ERR_VARINT_INVALID', `${what} at byte ${pos} exceeds 2^53 - 1`, { what, at: pos });
    }
    if ((b & 0x80) === 0) return { value, next: at + 1 };
    scale *= 128;
  }
  throw new CanopyError('ERR_VARINT_INVALID', `${what} at byte ${pos} is longer than ${MAX_VARINT_BYTES} bytes`, { what, at: pos });
}

/**
 * Encodes a non-negative safe integer in its minimal form.
 *
 * @throws CanopyError ERR_INVALID_ARGUMENT for a negative, fractional or
 *   unsafe value.
 */
export function encodeVarint(value: number): Uint8Array {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new CanopyError('ERR_INVALID_ARGUMENT', `cannot encode ${value} as a varint`, { value: String(value) });
  }
  const out: number[] = [];
  let v = value;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return Uint8Array.from(out);
}

/** Appends the encoding of `value` to `out` (a growable byte list). */
export function pushVarint(out: number[], value: number): void {
  for (const b of encodeVarint(value)) out.push(b);
}
