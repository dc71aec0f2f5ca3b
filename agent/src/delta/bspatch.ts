/**
 * bspatch for the raw bsdiff *stream* that OSTree puts in static-delta
 * payloads (Matthew Endsley's bsdiff library format, without the
 * `ENDSLEY/BSDIFF43` header and without bzip2: the part is xz compressed
 * as a whole).
 *
 * The stream is a sequence of records until `newSize` bytes are produced:
 *
 * ```
 * x, y, z   three 8-byte integers: 63-bit little-endian magnitude, sign in
 *           the top bit of the last byte (sign-magnitude, not two's complement)
 * x bytes   "diff": new[i] = diff[i] + old[oldPos + i]  (mod 256)
 * y bytes   "extra": copied to new verbatim
 *           then oldPos += x + z
 * ```
 *
 * Hostile input: the original C code (and OSTree before 2026.4) treats old
 * bytes outside the old file as 0. This implementation is strict instead:
 * every old byte a diff section reads must lie inside `old`, x and y must be
 * non-negative, no record may produce bytes past `newSize`, and the stream
 * must end exactly when `newSize` bytes are produced (no trailing bytes).
 * A genuine bsdiff never reads outside the old file (its matches are found
 * in it), so strictness only rejects forged patches.
 */
import { CanopyError } from '../core/errors';

/** Size of one control record (x, y, z). */
export const BSDIFF_RECORD_HEADER = 24;

function invalid(why: string, at: number): CanopyError {
  return new CanopyError('ERR_BSDIFF_INVALID', `bsdiff patch: ${why} (at patch byte ${at})`, { at });
}

/**
 * Reads one sign-magnitude 64-bit integer. Magnitudes above 2^53 - 1 are
 * refused: no file OSTree can hold is that large.
 */
export function readOfft(buf: Uint8Array, pos: number): number {
  const lo = (buf[pos] | (buf[pos + 1] << 8) | (buf[pos + 2] << 16)) + buf[pos + 3] * 0x1000000;
  const hiByte = buf[pos + 7];
  const hi = (buf[pos + 4] | (buf[pos + 5] << 8) | (buf[pos + 6] << 16)) + (hiByte & 0x7f) * 0x1000000;
  if (hi > 0x1fffff) throw invalid('integer magnitude exceeds 2^53 - 1', pos);
  const mag = hi * 0x100000000 + lo;
  return hiByte & 0x80 ? -mag : mag;
}

/**
 * Applies a bsdiff stream to `old`, producing exactly `newSize` bytes.
 *
 * @param old the source object's content
 * @param newSize the target size (from the delta's `o` opcode); the
 *   caller bounds it, and it is allocated up front
 * @param patch the raw stream
 * @throws CanopyError ERR_BSDIFF_INVALID for a truncated stream, negative
 *   x or y, a record that would pass `newSize`, a diff that reads outside
 *   `old`, or bytes left after the last record; ERR_INVALID_ARGUMENT for a
 *   `newSize` that is not a non-negative safe integer.
 */
export function bspatch(old: Uint8Array, newSize: number, patch: Uint8Array): Uint8Array {
  if (!Number.isSafeInteger(newSize) || newSize < 0) {
    throw new CanopyError('ERR_INVALID_ARGUMENT', `bspatch: newSize must be a non-negative integer, got ${newSize}`);
  }
  const out = new Uint8Array(newSize);
  const oldSize = old.length;
  let p = 0;
  let newPos = 0;
  let oldPos = 0;
  while (newPos < newSize) {
    if (patch.length - p < BSDIFF_RECORD_HEADER) throw invalid(`stream ends with ${newSize - newPos} of ${newSize} bytes still to produce`, p);
    const x = readOfft(patch, p);
    const y = readOfft(patch, p + 8);
    const z = readOfft(patch, p + 16);
    const at = p;
    p += BSDIFF_RECORD_HEADER;
    if (x < 0 || y < 0) throw invalid(`negative length in record (diff ${x}, extra ${y})`, at);
    if (x > newSize - newPos) throw invalid(`diff of ${x} bytes runs past the new size ${newSize}`, at);
    if (x > patch.length - p) throw invalid(`diff of ${x} bytes runs past the end of the stream`, at);
    if (x > 0) {
      if (oldPos < 0 || oldPos + x > oldSize) throw invalid(`diff reads old bytes [${oldPos}, ${oldPos + x}) outside the old file of ${oldSize} bytes`, at);
      for (let i = 0; i < x; i++) out[newPos + i] = patch[p + i] + old[oldPos + i];
      p += x;
      newPos += x;
      oldPos += x;
    }
    if (y > newSize - newPos) throw invalid(`extra of ${y} bytes runs past the new size ${newSize}`, at);
    if (y > patch.length - p) throw invalid(`extra of ${y} bytes runs past the end of the stream`, at);
    out.set(patch.subarray(p, p + y), newPos);
    p += y;
    newPos += y;
    oldPos += z;
    if (!Number.isSafeInteger(oldPos)) throw invalid('old position overflows', at);
  }
  if (p !== patch.length) throw invalid(`${patch.length - p} bytes after the last record`, p);
  return out;
}
