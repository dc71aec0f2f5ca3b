/**
 * Rolling-checksum matching, as OSTree's delta generator uses it for files
 * that changed but still share most of their content with an old version
 * (typically grown or shrunk at one end).
 *
 * Both files are cut into content-defined chunks with bup's rolling sum (a
 * 64-byte window; a cut wherever the low 13 bits of the second sum are all
 * ones, so chunks average 8 KiB; chunks are capped at 32 KiB, and once no
 * cut point is left the rest is cut at the cap). Chunks of the new file
 * whose CRC-32, length and bytes equal a chunk of the old file become
 * copies from the old file (`w` opcodes with a read source); the gaps are
 * written from the payload. OSTree uses this when at least half of the new
 * file's chunks match.
 *
 * Operator side, but small and pure: (old, new) -> matches.
 */
import { crc32 } from './crc';

/** Largest chunk. */
export const ROLLSUM_CHUNK_MAX = 8192 * 4;
const BLOB_MASK = (1 << 13) - 1;
const WINDOW = 64;
const CHAR_OFFSET = 31;

/**
 * Length of the first content-defined chunk of `data[start, end)`, or 0 when
 * no cut point occurs before `end` (bup's `find_ofs`).
 */
export function findChunkEnd(data: Uint8Array, start: number, end: number): number {
  const window = new Uint8Array(WINDOW);
  let w = 0;
  let s1 = WINDOW * CHAR_OFFSET;
  let s2 = WINDOW * (WINDOW - 1) * CHAR_OFFSET;
  for (let i = start; i < end; i++) {
    const add = data[i];
    const drop = window[w];
    s1 = (s1 + add - drop) | 0;
    s2 = (s2 + s1 - WINDOW * (drop + CHAR_OFFSET)) | 0;
    window[w] = add;
    w = (w + 1) & (WINDOW - 1);
    if ((s2 & BLOB_MASK) === BLOB_MASK) return i - start + 1;
  }
  return 0;
}

export interface RollsumChunk {
  crc: number;
  start: number;
  length: number;
}

/** Cuts `data` into chunks the way OSTree does. */
export function rollsumChunks(data: Uint8Array): RollsumChunk[] {
  const out: RollsumChunk[] = [];
  let start = 0;
  let noMoreCuts = false;
  while (start < data.length) {
    const remaining = data.length - start;
    let len: number;
    if (noMoreCuts) {
      len = Math.min(ROLLSUM_CHUNK_MAX, remaining);
    } else {
      len = findChunkEnd(data, start, start + Math.min(0x7fffffff, remaining));
      if (len === 0) {
        noMoreCuts = true;
        len = Math.min(ROLLSUM_CHUNK_MAX, remaining);
      } else if (len > ROLLSUM_CHUNK_MAX) {
        len = ROLLSUM_CHUNK_MAX;
      }
    }
    out.push({ crc: crc32(data, start, start + len), start, length: len });
    start += len;
  }
  return out;
}

export interface RollsumMatch {
  length: number;
  /** Offset in the new file. */
  toStart: number;
  /** Offset in the old file. */
  fromStart: number;
}

export interface RollsumResult {
  /** Matches sorted by `toStart`. */
  matches: RollsumMatch[];
  /** Chunks of the new file. */
  total: number;
  /** Bytes covered by matches. */
  matchSize: number;
}

function equalRange(a: Uint8Array, aStart: number, b: Uint8Array, bStart: number, len: number): boolean {
  for (let i = 0; i < len; i++) if (a[aStart + i] !== b[bStart + i]) return false;
  return true;
}

/** Finds the chunks of `to` that also occur, byte for byte, as chunks of `from`. */
export function rollsumMatches(from: Uint8Array, to: Uint8Array): RollsumResult {
  const byCrc = new Map<number, RollsumChunk[]>();
  for (const c of rollsumChunks(from)) {
    const list = byCrc.get(c.crc);
    if (list) list.push(c);
    else byCrc.set(c.crc, [c]);
  }
  const toChunks = rollsumChunks(to);
  const matches: RollsumMatch[] = [];
  let matchSize = 0;
  for (const t of toChunks) {
    const candidates = byCrc.get(t.crc);
    if (!candidates) continue;
    const hit = candidates.find((f) => f.length === t.length && equalRange(from, f.start, to, t.start, t.length));
    if (hit) {
      matches.push({ length: t.length, toStart: t.start, fromStart: hit.start });
      matchSize += t.length;
    }
  }
  matches.sort((a, b) => a.toStart - b.toStart);
  return { matches, total: toChunks.length, matchSize };
}

/** OSTree's rule: use rollsum when at least half of the new chunks matched (integer percent). */
export function rollsumWorthIt(r: RollsumResult): boolean {
  return r.total > 0 && Math.floor((r.matches.length * 100) / r.total) >= 50;
}

/** One write of the rebuilt file: from the payload (new bytes) or from the old file. */
export type RollsumWrite = { from: 'payload'; toStart: number; length: number } | { from: 'source'; fromStart: number; length: number };

/**
 * The writes that rebuild `toLength` bytes from the matches, in order:
 * gaps from the payload, matches from the source, then the tail.
 */
export function rollsumWrites(matches: readonly RollsumMatch[], toLength: number): RollsumWrite[] {
  const out: RollsumWrite[] = [];
  let at = 0;
  for (const m of matches) {
    if (m.toStart > at) out.push({ from: 'payload', toStart: at, length: m.toStart - at });
    out.push({ from: 'source', fromStart: m.fromStart, length: m.length });
    at = m.toStart + m.length;
  }
  if (at < toLength) out.push({ from: 'payload', toStart: at, length: toLength - at });
  return out;
}
