/**
 * The two integrity checks of the xz container: CRC-32 (IEEE 802.3, the
 * zlib one) and CRC-64 (ECMA-182, reflected, as xz uses it). Table driven;
 * CRC-64 is kept as two 32-bit halves so it runs on plain numbers.
 */

const CRC32_TABLE = new Uint32Array(256);
// Slicing-by-4 tables: entry [k * 256 + n] advances byte n through k more zero bytes.
const CRC64_LO = new Uint32Array(256 * 4);
const CRC64_HI = new Uint32Array(256 * 4);

(function buildTables(): void {
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    CRC32_TABLE[n] = c >>> 0;
    // CRC-64 polynomial (reflected) 0xC96C5795D7870F42 as hi/lo halves.
    let lo = n;
    let hi = 0;
    for (let k = 0; k < 8; k++) {
      const carry = lo & 1;
      lo = ((lo >>> 1) | ((hi & 1) << 31)) >>> 0;
      hi = hi >>> 1;
      if (carry) {
        lo = (lo ^ 0xd7870f42) >>> 0;
        hi = (hi ^ 0xc96c5795) >>> 0;
      }
    }
    CRC64_LO[n] = lo;
    CRC64_HI[n] = hi;
  }
  for (let k = 1; k < 4; k++) {
    for (let n = 0; n < 256; n++) {
      const plo = CRC64_LO[(k - 1) * 256 + n];
      const phi = CRC64_HI[(k - 1) * 256 + n];
      const idx = plo & 0xff;
      CRC64_LO[k * 256 + n] = (CRC64_LO[idx] ^ ((plo >>> 8) | (phi << 24))) >>> 0;
      CRC64_HI[k * 256 + n] = (CRC64_HI[idx] ^ (phi >>> 8)) >>> 0;
    }
  }
})();

/** CRC-32 of `data[start, end)`. */
export function crc32(data: Uint8Array, start = 0, end = data.length): number {
  let c = 0xffffffff;
  for (let i = start; i < end; i++) c = CRC32_TABLE[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** CRC-64 of `data[start, end)` as 8 little-endian bytes (as xz stores it). */
export function crc64(data: Uint8Array, start = 0, end = data.length): Uint8Array {
  let lo = 0xffffffff;
  let hi = 0xffffffff;
  let i = start;
  const end4 = start + ((end - start) & ~3);
  for (; i < end4; i += 4) {
    // Fold four bytes into the low word, then look all four up at once.
    const x = (lo ^ (data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24))) >>> 0;
    const a = x & 0xff;
    const b = (x >>> 8) & 0xff;
    const c = (x >>> 16) & 0xff;
    const d = x >>> 24;
    lo = (CRC64_LO[768 + a] ^ CRC64_LO[512 + b] ^ CRC64_LO[256 + c] ^ CRC64_LO[d] ^ hi) >>> 0;
    hi = (CRC64_HI[768 + a] ^ CRC64_HI[512 + b] ^ CRC64_HI[256 + c] ^ CRC64_HI[d]) >>> 0;
  }
  for (; i < end; i++) {
    const idx = (lo ^ data[i]) & 0xff;
    lo = (CRC64_LO[idx] ^ ((lo >>> 8) | (hi << 24))) >>> 0;
    hi = (CRC64_HI[idx] ^ (hi >>> 8)) >>> 0;
  }
  lo = (lo ^ 0xffffffff) >>> 0;
  hi = (hi ^ 0xffffffff) >>> 0;
  const out = new Uint8Array(8);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, lo, true);
  dv.setUint32(4, hi, true);
  return out;
}
