/**
 * bsdiff generator (operator side only): produces the raw stream that
 * {@link bspatch} and OSTree's bspatch apply (format in bspatch.ts).
 *
 * Method (Colin Percival's bsdiff, as in the library OSTree embeds): sort
 * the old file's suffixes; walk the new file looking for long exact matches
 * in the old one by binary search over the suffix array; between two exact
 * matches, extend the previous match forwards and the next one backwards as
 * long as at least half the bytes still agree (approximate matches, which
 * is what makes bsdiff good on recompiled binaries whose addresses moved),
 * and split any overlap where it scores best. Each step becomes one record:
 * diff bytes (new - old) for the approximate match, extra bytes for the
 * rest, and a seek in the old file.
 *
 * A pure function of (old, new): it can run in a worker thread as it is.
 * Memory: about 13 bytes per old byte for the suffix array construction,
 * 4 per old byte afterwards, plus the output.
 */
import { BSDIFF_RECORD_HEADER } from './bspatch';
import { suffixArray } from './suffix-array';

/** Writes one sign-magnitude 64-bit integer at `pos`. */
export function writeOfft(buf: Uint8Array, pos: number, value: number): void {
  let mag = Math.abs(value);
  for (let i = 0; i < 8; i++) {
    buf[pos + i] = mag % 256;
    mag = Math.floor(mag / 256);
  }
  if (value < 0) buf[pos + 7] |= 0x80;
}

/** Growable output buffer. */
class Sink {
  buf = new Uint8Array(4096);
  len = 0;
  reserve(extra: number): void {
    if (this.len + extra <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.len + extra) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }
  result(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

/** Length of the common prefix of old[a..] and new[b..]. */
function matchLength(old: Uint8Array, a: number, nw: Uint8Array, b: number): number {
  const max = Math.min(old.length - a, nw.length - b);
  let i = 0;
  while (i < max && old[a + i] === nw[b + i]) i++;
  return i;
}

/**
 * Where the suffixes starting with each two-byte prefix lie in the suffix
 * array: `lo[k]`..`hi[k]` (exclusive), `lo[k] = -1` when none does. All
 * suffixes sharing a prefix are adjacent in the array, so a search for a
 * string starting with that prefix only needs to look inside its bucket.
 */
interface Buckets {
  lo: Int32Array;
  hi: Int32Array;
  /** Any position holding each byte value, or -1. */
  byte: Int32Array;
}

function buckets(sa: Int32Array, old: Uint8Array): Buckets {
  const lo = new Int32Array(65536).fill(-1);
  const hi = new Int32Array(65536);
  const byte = new Int32Array(256).fill(-1);
  const n = old.length;
  for (let i = 0; i < sa.length; i++) {
    const p = sa[i];
    if (p < n && byte[old[p]] < 0) byte[old[p]] = p;
    if (p + 2 > n) continue;
    const k = (old[p] << 8) | old[p + 1];
    if (lo[k] < 0) lo[k] = i;
    hi[k] = i + 1;
  }
  return { lo, hi, byte };
}

/**
 * Finds the longest prefix of new[scan..] that occurs in old, by binary
 * search over the suffix array (inside the bucket of its first two bytes).
 * Returns its length; its old position is left in `found.pos`.
 */
function search(sa: Int32Array, b: Buckets, old: Buffer, nw: Buffer, scan: number, found: { pos: number }): number {
  let st = 0;
  let en = old.length;
  if (scan + 2 <= nw.length) {
    const k = (nw[scan] << 8) | nw[scan + 1];
    if (b.lo[k] < 0) {
      // No two-byte match: the best is one byte, or none.
      const p = b.byte[nw[scan]];
      found.pos = p < 0 ? 0 : p;
      return p < 0 ? 0 : 1;
    }
    st = b.lo[k];
    en = b.hi[k] - 1;
  }
  while (en - st >= 2) {
    const mid = st + ((en - st) >>> 1);
    const p = sa[mid];
    const n = Math.min(old.length - p, nw.length - scan);
    // Native memcmp without allocating views.
    if (old.compare(nw, scan, scan + n, p, p + n) < 0) st = mid;
    else en = mid;
  }
  const x = matchLength(old, sa[st], nw, scan);
  const y = matchLength(old, sa[en], nw, scan);
  if (x > y) {
    found.pos = sa[st];
    return x;
  }
  found.pos = sa[en];
  return y;
}

/**
 * Computes a bsdiff stream that turns `oldData` into `newData`.
 * Deterministic: the same inputs give the same bytes.
 */
export function bsdiff(oldData: Uint8Array, newData: Uint8Array): Uint8Array {
  const old = Buffer.from(oldData.buffer, oldData.byteOffset, oldData.byteLength);
  const nw = Buffer.from(newData.buffer, newData.byteOffset, newData.byteLength);
  const oldSize = old.length;
  const newSize = nw.length;
  const sa = suffixArray(old);
  const bk = buckets(sa, old);
  const out = new Sink();
  const found = { pos: 0 };

  let scan = 0;
  let len = 0;
  let pos = 0;
  let lastScan = 0;
  let lastPos = 0;
  let lastOffset = 0;
  while (scan < newSize) {
    let oldScore = 0;
    scan += len;
    let scsc = scan;
    for (; scan < newSize; scan++) {
      len = search(sa, bk, old, nw, scan, found);
      pos = found.pos;
      // How many of the bytes the exact match covers would the previous
      // alignment (lastOffset) also have matched?
      for (; scsc < scan + len; scsc++) if (scsc + lastOffset < oldSize && old[scsc + lastOffset] === nw[scsc]) oldScore++;
      if ((len === oldScore && len !== 0) || len > oldScore + 8) break;
      if (scan + lastOffset < oldSize && old[scan + lastOffset] === nw[scan]) oldScore--;
    }
    if (len === oldScore && scan !== newSize) continue;

    // Extend the previous match forwards while at least half the bytes agree.
    let lenF = 0;
    for (let i = 0, s = 0, best = 0; lastScan + i < scan && lastPos + i < oldSize;) {
      if (old[lastPos + i] === nw[lastScan + i]) s++;
      i++;
      if (s * 2 - i > best * 2 - lenF) {
        best = s;
        lenF = i;
      }
    }
    // Extend the new match backwards likewise.
    let lenB = 0;
    if (scan < newSize) {
      for (let i = 1, s = 0, best = 0; scan >= lastScan + i && pos >= i; i++) {
        if (old[pos - i] === nw[scan - i]) s++;
        if (s * 2 - i > best * 2 - lenB) {
          best = s;
          lenB = i;
        }
      }
    }
    // If the two extensions overlap, cut where the split scores best.
    if (lastScan + lenF > scan - lenB) {
      const overlap = lastScan + lenF - (scan - lenB);
      let s = 0;
      let best = 0;
      let lenS = 0;
      for (let i = 0; i < overlap; i++) {
        if (nw[lastScan + lenF - overlap + i] === old[lastPos + lenF - overlap + i]) s++;
        if (nw[scan - lenB + i] === old[pos - lenB + i]) s--;
        if (s > best) {
          best = s;
          lenS = i + 1;
        }
      }
      lenF += lenS - overlap;
      lenB -= lenS;
    }

    const extra = scan - lenB - (lastScan + lenF);
    const seek = pos - lenB - (lastPos + lenF);
    out.reserve(BSDIFF_RECORD_HEADER + lenF + extra);
    const b = out.buf;
    let o = out.len;
    writeOfft(b, o, lenF);
    writeOfft(b, o + 8, extra);
    writeOfft(b, o + 16, seek);
    o += BSDIFF_RECORD_HEADER;
    for (let i = 0; i < lenF; i++) b[o + i] = nw[lastScan + i] - old[lastPos + i];
    o += lenF;
    b.set(nw.subarray(lastScan + lenF, lastScan + lenF + extra), o);
    out.len = o + extra;

    lastScan = scan - lenB;
    lastPos = pos - lenB;
    lastOffset = pos - scan;
  }
  return out.result();
}
