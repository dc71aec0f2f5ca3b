/**
 * A bounded capture of a child's output: keeps the last `limit` bytes (the end of a
 * failing check's output is what explains it), counts everything, and never holds more
 * than about twice the limit in memory however much the child writes.
 */

/** Default bytes kept per check. */
export const OUTPUT_TAIL_DEFAULT = 64 * 1024;

export class OutputTail {
  private chunks: Buffer[] = [];
  private held = 0;
  private total = 0;

  constructor(readonly limit: number = OUTPUT_TAIL_DEFAULT) {
    if (!Number.isInteger(limit) || limit < 0) throw new RangeError(`output limit ${limit} is not a non-negative integer`);
  }

  /** Adds a chunk. */
  push(chunk: Uint8Array): void {
    this.total += chunk.length;
    if (this.limit === 0) return;
    const buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (buf.length >= this.limit) {
      this.chunks = [Buffer.from(buf.subarray(buf.length - this.limit))];
      this.held = this.limit;
      return;
    }
    this.chunks.push(Buffer.from(buf));
    this.held += buf.length;
    if (this.held > 2 * this.limit) this.compact();
  }

  private compact(): void {
    const all = Buffer.concat(this.chunks);
    this.chunks = [all.subarray(all.length - Math.min(all.length, this.limit))];
    this.held = this.chunks[0].length;
  }

  /** Bytes written in all. */
  get totalBytes(): number {
    return this.total;
  }

  /** True when bytes were dropped from the front. */
  get truncated(): boolean {
    return this.total > this.limit;
  }

  /** The kept bytes. */
  bytes(): Buffer {
    this.compact();
    return this.chunks[0] ?? Buffer.alloc(0);
  }

  /** The kept bytes as text (UTF-8, invalid sequences replaced; a split first character dropped). */
  text(): string {
    let b = this.bytes();
    if (this.truncated) {
      let skip = 0;
      while (skip < 3 && skip < b.length && (b[skip] & 0xc0) === 0x80) skip++;
      b = b.subarray(skip);
    }
    return b.toString('utf8');
  }
}

/** The last `max` characters of `s` (whole code points), for reports smaller than the capture. */
export function tailChars(s: string, max: number): string {
  if (s.length <= max) return s;
  let start = s.length - max;
  const c = s.charCodeAt(start);
  if (c >= 0xdc00 && c <= 0xdfff) start++;
  return s.slice(start);
}
