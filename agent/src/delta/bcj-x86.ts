/**
 * The xz "x86" branch/call/jump filter (filter id 0x04), decoding side.
 *
 * Before compression the encoder rewrote the 32-bit relative targets of
 * x86 `CALL` (0xE8) and `JMP` (0xE9) instructions into absolute addresses
 * (relative + position of the next instruction), which repeat far more in
 * machine code and so compress better. Decoding subtracts the position
 * again. Which E8/E9 bytes were converted is decided from the data, the
 * same way on both sides:
 *
 * - the operand's top byte must be 0x00 or 0xFF (a plausible near target);
 * - a 3-bit history of the last positions that held E8/E9 without being
 *   converted ("prev mask") must allow it, so that runs of E8/E9 bytes that
 *   are really data are left alone;
 * - when the converted value would itself look like such a byte pattern at
 *   the position the mask points to, the conversion is repeated with that
 *   byte inverted, which keeps the transform reversible;
 * - the result keeps bits 0..24 and sign-extends bit 24 into the top byte.
 *
 * The last four bytes of a block are never converted. Positions count from
 * the filter's start offset (0 unless the block header gives one).
 */

/** A top byte that marks a plausible 32-bit relative target. */
const plausible = (b: number): boolean => b === 0x00 || b === 0xff;

/** For each 3-bit history, whether a conversion is allowed. */
const ALLOWED = [true, true, true, false, true, false, false, false];
/** For each 3-bit history, which operand byte (from the top) is re-checked. */
const BYTE_OF = [0, 1, 2, 2, 3, 3, 3, 3];

/**
 * Undoes the x86 filter on `buf[start, end)` in place.
 *
 * @param startOffset the filter's start offset (position of `buf[start]` for the filter)
 */
export function bcjX86Decode(buf: Uint8Array, start: number, end: number, startOffset = 0): void {
  const size = end - start;
  if (size < 5) return;
  let mask = 0;
  // Position (for the filter) of the last E8/E9 byte seen; starts 5 before the data.
  let lastPos = (startOffset - 5) >>> 0;
  const limit = end - 5;
  let i = start;
  while (i <= limit) {
    const op = buf[i];
    if (op !== 0xe8 && op !== 0xe9) {
      i++;
      continue;
    }
    const pos = (startOffset + (i - start)) >>> 0;
    const gap = (pos - lastPos) >>> 0;
    lastPos = pos;
    if (gap > 5) {
      mask = 0;
    } else {
      for (let k = 0; k < gap; k++) mask = ((mask & 0x77) << 1) & 0xff;
    }
    const top = buf[i + 4];
    if (plausible(top) && ALLOWED[(mask >>> 1) & 7] && mask >>> 1 < 0x10) {
      let src = ((top << 24) | (buf[i + 3] << 16) | (buf[i + 2] << 8) | buf[i + 1]) >>> 0;
      const next = (pos + 5) >>> 0;
      let dest: number;
      for (;;) {
        dest = (src - next) >>> 0;
        if (mask === 0) break;
        const j = BYTE_OF[mask >>> 1];
        const b = (dest >>> (24 - j * 8)) & 0xff;
        if (!plausible(b)) break;
        src = (dest ^ (2 ** (32 - j * 8) - 1)) >>> 0;
      }
      buf[i + 4] = (dest >>> 24) & 1 ? 0xff : 0x00;
      buf[i + 3] = (dest >>> 16) & 0xff;
      buf[i + 2] = (dest >>> 8) & 0xff;
      buf[i + 1] = dest & 0xff;
      i += 5;
      mask = 0;
    } else {
      i++;
      mask |= 1;
      if (plausible(top)) mask |= 0x10;
    }
  }
}
