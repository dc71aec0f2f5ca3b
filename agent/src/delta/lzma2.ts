/**
 * LZMA2: a sequence of chunks, each either stored (uncompressed) or LZMA
 * compressed, that may reset the dictionary, the coder state or the
 * literal properties; a 0x00 control byte ends the stream.
 *
 * Control byte:
 * - `0x00` end; `0x01` stored chunk with dictionary reset; `0x02` stored
 *   chunk; then a 16-bit big-endian (size - 1).
 * - `0x80..0xff` LZMA chunk. Bits 5-6: 0 no reset, 1 state reset, 2 state
 *   reset + new properties byte, 3 also dictionary reset. Bits 0-4 are bits
 *   16-20 of (uncompressed size - 1); then 16 bits BE of it, then 16 bits BE
 *   of (compressed size - 1), then the properties byte when bit 6 is set.
 */
import { CanopyError } from '../core/errors';
import { LzmaDecoder } from './lzma-decoder';

function corrupt(why: string, at: number): CanopyError {
  return new CanopyError('ERR_XZ_CORRUPT', `xz: corrupt LZMA2 data at byte ${at}: ${why}`, { at });
}

/** Where an LZMA2 stream ended, in the input and in the output. */
export interface Lzma2Result {
  inPos: number;
  outPos: number;
}

/**
 * Decodes one LZMA2 stream starting at `input[inPos]` (reading no further
 * than `inEnd`) into `out` from `outPos`, producing no byte at or past
 * `outEnd`. `dictSize` is the dictionary size from the filter properties.
 *
 * @throws CanopyError ERR_XZ_CORRUPT when the chunks are malformed, a chunk
 *   would pass `outEnd` or `inEnd`, or the LZMA data inside is corrupt.
 */
export function decodeLzma2(input: Uint8Array, inPos: number, inEnd: number, out: Uint8Array, outPos: number, outEnd: number, dictSize: number): Lzma2Result {
  const lzma = new LzmaDecoder(out, dictSize);
  let pos = inPos;
  let o = outPos;
  let dictStart = outPos;
  let needDictReset = true;
  let needProps = true;
  for (;;) {
    if (pos >= inEnd) throw corrupt('stream ends without an end marker', pos);
    const control = input[pos];
    if (control === 0x00) return { inPos: pos + 1, outPos: o };
    if (control === 0x01 || control === 0x02) {
      if (pos + 3 > inEnd) throw corrupt('stored chunk header is truncated', pos);
      if (control === 0x01) {
        // As in liblzma: after a dictionary reset by a stored chunk, the next
        // LZMA chunk must bring its own properties.
        dictStart = o;
        needDictReset = false;
        needProps = true;
      } else if (needDictReset) {
        throw corrupt('first chunk does not reset the dictionary', pos);
      }
      const size = ((input[pos + 1] << 8) | input[pos + 2]) + 1;
      pos += 3;
      if (size > inEnd - pos) throw corrupt(`stored chunk of ${size} bytes runs past the input`, pos);
      if (size > outEnd - o) throw corrupt(`stored chunk of ${size} bytes runs past the declared output size`, pos);
      out.set(input.subarray(pos, pos + size), o);
      pos += size;
      o += size;
      continue;
    }
    if (control < 0x80) throw corrupt(`invalid control byte 0x${control.toString(16)}`, pos);
    if (pos + 5 > inEnd) throw corrupt('LZMA chunk header is truncated', pos);
    const reset = (control >>> 5) & 3;
    const usize = ((control & 0x1f) * 65536) + ((input[pos + 1] << 8) | input[pos + 2]) + 1;
    const csize = ((input[pos + 3] << 8) | input[pos + 4]) + 1;
    pos += 5;
    if (reset === 3) {
      dictStart = o;
      needDictReset = false;
    } else if (needDictReset) {
      throw corrupt('first chunk does not reset the dictionary', pos - 5);
    }
    if (reset >= 2) {
      if (pos >= inEnd) throw corrupt('properties byte is missing', pos);
      lzma.setProps(input[pos++]);
      needProps = false;
    } else if (needProps) {
      throw corrupt('LZMA chunk before any properties', pos - 5);
    }
    if (reset >= 1) lzma.resetState();
    if (csize > inEnd - pos) throw corrupt(`LZMA chunk of ${csize} bytes runs past the input`, pos);
    if (usize > outEnd - o) throw corrupt(`LZMA chunk of ${usize} bytes runs past the declared output size`, pos);
    lzma.decodeChunk(input, pos, pos + csize, o, o + usize, dictStart);
    pos += csize;
    o += usize;
  }
}
