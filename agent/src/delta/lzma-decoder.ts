/**
 * LZMA decoding, the engine under LZMA2 chunks: a range decoder over
 * adaptive binary probabilities, literals coded in the context of the
 * previous byte, matches with a four-entry distance history.
 *
 * The output buffer is the dictionary. Every byte the decoder produces goes
 * straight into the caller's buffer, and matches copy from earlier bytes of
 * that same buffer, so decoding needs no window of its own: memory is the
 * output size plus about 30 KiB of probabilities, whatever dictionary size
 * the stream declares. Matches may not reach before `dictStart` (the last
 * dictionary reset) nor further back than the declared dictionary size.
 *
 * Every read of the input is checked against the chunk's end, every write
 * against the chunk's declared uncompressed end, so hostile input fails
 * with ERR_XZ_CORRUPT instead of reading or writing out of range.
 */
import { CanopyError } from '../core/errors';

const PROB_INIT = 1024;
const STATES = 12;
const POS_STATES_MAX = 16;
const LEN_LOW_BITS = 3;
const LEN_MID_BITS = 3;
const LEN_HIGH_BITS = 8;
const DIST_STATES = 4;
const END_POS_MODEL_INDEX = 14;
const FULL_DISTANCES = 128;
const ALIGN_BITS = 4;
const MATCH_LEN_MIN = 2;

function corrupt(why: string, details: Record<string, number> = {}): CanopyError {
  return new CanopyError('ERR_XZ_CORRUPT', `xz: corrupt LZMA data: ${why}`, details);
}

/** Probabilities of one length coder (match lengths or repeat lengths). */
class LenProbs {
  readonly choice = new Uint16Array(2);
  readonly low = new Uint16Array(POS_STATES_MAX << LEN_LOW_BITS);
  readonly mid = new Uint16Array(POS_STATES_MAX << LEN_MID_BITS);
  readonly high = new Uint16Array(1 << LEN_HIGH_BITS);
  reset(): void {
    this.choice.fill(PROB_INIT);
    this.low.fill(PROB_INIT);
    this.mid.fill(PROB_INIT);
    this.high.fill(PROB_INIT);
  }
}

/** LZMA decoder state that survives from one LZMA2 chunk to the next. */
export class LzmaDecoder {
  // Literal coding parameters (set by setProps).
  private lc = 0;
  private lp = 0;
  private pb = 0;
  private literal = new Uint16Array(0x300);
  // Probabilities.
  private readonly isMatch = new Uint16Array(STATES << 4);
  private readonly isRep = new Uint16Array(STATES);
  private readonly isRepG0 = new Uint16Array(STATES);
  private readonly isRepG1 = new Uint16Array(STATES);
  private readonly isRepG2 = new Uint16Array(STATES);
  private readonly isRep0Long = new Uint16Array(STATES << 4);
  private readonly distSlot = new Uint16Array(DIST_STATES << 6);
  private readonly distSpecial = new Uint16Array(FULL_DISTANCES - END_POS_MODEL_INDEX);
  private readonly align = new Uint16Array(1 << ALIGN_BITS);
  private readonly matchLen = new LenProbs();
  private readonly repLen = new LenProbs();
  // Coder state.
  private state = 0;
  private rep0 = 0;
  private rep1 = 0;
  private rep2 = 0;
  private rep3 = 0;
  // Range decoder.
  /** range and code of the range decoder, unboxed: [range, code]. */
  private readonly rc = new Uint32Array(2);
  private input: Uint8Array = new Uint8Array(0);
  private inPos = 0;
  private inEnd = 0;

  /**
   * @param out the whole output buffer (also the dictionary)
   * @param dictSize the dictionary size the stream declares
   */
  constructor(private readonly out: Uint8Array, private readonly dictSize: number) {}

  /** Sets lc/lp/pb from an LZMA properties byte. */
  setProps(props: number): void {
    if (props >= 9 * 5 * 5) throw corrupt(`properties byte ${props} is out of range`);
    const lc = props % 9;
    const rest = (props / 9) | 0;
    const lp = rest % 5;
    const pb = (rest / 5) | 0;
    if (lc + lp > 4) throw corrupt(`lc + lp = ${lc + lp} exceeds 4 (LZMA2 limit)`);
    this.lc = lc;
    this.lp = lp;
    this.pb = pb;
    const size = 0x300 << (lc + lp);
    if (this.literal.length !== size) this.literal = new Uint16Array(size);
  }

  /** Resets probabilities and the coder state (an LZMA2 state reset). */
  resetState(): void {
    this.literal.fill(PROB_INIT);
    this.isMatch.fill(PROB_INIT);
    this.isRep.fill(PROB_INIT);
    this.isRepG0.fill(PROB_INIT);
    this.isRepG1.fill(PROB_INIT);
    this.isRepG2.fill(PROB_INIT);
    this.isRep0Long.fill(PROB_INIT);
    this.distSlot.fill(PROB_INIT);
    this.distSpecial.fill(PROB_INIT);
    this.align.fill(PROB_INIT);
    this.matchLen.reset();
    this.repLen.reset();
    this.state = 0;
    this.rep0 = this.rep1 = this.rep2 = this.rep3 = 0;
  }

  private normalize(): void {
    const rc = this.rc;
    if (rc[0] < 0x1000000) {
      if (this.inPos >= this.inEnd) throw corrupt('compressed chunk ends early', { at: this.inPos });
      rc[0] = rc[0] << 8;
      rc[1] = (rc[1] << 8) | this.input[this.inPos++];
    }
  }

  private bit(probs: Uint16Array, i: number): number {
    const rc = this.rc;
    const prob = probs[i];
    const bound = (rc[0] >>> 11) * prob;
    let b: number;
    if (rc[1] < bound) {
      rc[0] = bound;
      probs[i] = prob + ((2048 - prob) >>> 5);
      b = 0;
    } else {
      rc[0] -= bound;
      rc[1] -= bound;
      probs[i] = prob - (prob >>> 5);
      b = 1;
    }
    this.normalize();
    return b;
  }

  private tree(probs: Uint16Array, base: number, bits: number): number {
    return this.treeFast(probs, base, bits);
  }

  private reverseTree(probs: Uint16Array, base: number, bits: number): number {
    let m = 1;
    let sym = 0;
    for (let i = 0; i < bits; i++) {
      const b = this.bit(probs, base + m);
      m = (m << 1) | b;
      sym |= b << i;
    }
    return sym;
  }

  /** An 8-bit literal without match context; the hottest loop, so inlined by hand. */
  private plainLiteral(base: number): number {
    const rc = this.rc;
    const probs = this.literal;
    const input = this.input;
    let range = rc[0];
    let code = rc[1];
    let sym = 1;
    while (sym < 0x100) {
      const prob = probs[base + sym];
      const bound = (range >>> 11) * prob;
      if (code < bound) {
        range = bound;
        probs[base + sym] = prob + ((2048 - prob) >>> 5);
        sym <<= 1;
      } else {
        range -= bound;
        code -= bound;
        probs[base + sym] = prob - (prob >>> 5);
        sym = (sym << 1) | 1;
      }
      if (range < 0x1000000) {
        if (this.inPos >= this.inEnd) throw corrupt('compressed chunk ends early', { at: this.inPos });
        range = (range * 256) >>> 0;
        code = (code * 256 + input[this.inPos++]) >>> 0;
      }
    }
    rc[0] = range;
    rc[1] = code;
    return sym;
  }

  /** A literal coded against the byte at the last match distance, inlined like {@link plainLiteral}. */
  private matchedLiteral(base: number, matchByte: number): number {
    const rc = this.rc;
    const probs = this.literal;
    const input = this.input;
    let range = rc[0];
    let code = rc[1];
    let sym = 1;
    // While the decoded bits follow the match byte, its next bit selects the probabilities.
    let offset = 0x100;
    while (sym < 0x100) {
      matchByte <<= 1;
      const matchBit = matchByte & offset;
      const i = base + offset + matchBit + sym;
      const prob = probs[i];
      const bound = (range >>> 11) * prob;
      if (code < bound) {
        range = bound;
        probs[i] = prob + ((2048 - prob) >>> 5);
        sym <<= 1;
        offset &= ~matchBit;
      } else {
        range = (range - bound) >>> 0;
        code = (code - bound) >>> 0;
        probs[i] = prob - (prob >>> 5);
        sym = (sym << 1) | 1;
        offset &= matchBit;
      }
      if (range < 0x1000000) {
        if (this.inPos >= this.inEnd) throw corrupt('compressed chunk ends early', { at: this.inPos });
        range = (range * 256) >>> 0;
        code = (code * 256 + input[this.inPos++]) >>> 0;
      }
    }
    rc[0] = range;
    rc[1] = code;
    return sym;
  }

  private directBits(count: number): number {
    const rc = this.rc;
    const input = this.input;
    let range = rc[0];
    let code = rc[1];
    let v = 0;
    for (let i = 0; i < count; i++) {
      range >>>= 1;
      let b = 0;
      if (code >= range) {
        code = (code - range) >>> 0;
        b = 1;
      }
      v = ((v << 1) | b) >>> 0;
      if (range < 0x1000000) {
        if (this.inPos >= this.inEnd) throw corrupt('compressed chunk ends early', { at: this.inPos });
        range = (range * 256) >>> 0;
        code = (code * 256 + input[this.inPos++]) >>> 0;
      }
    }
    rc[0] = range;
    rc[1] = code;
    return v;
  }

  /** A bit-tree symbol of `bits` bits (most significant first), inlined like {@link plainLiteral}. */
  private treeFast(probs: Uint16Array, base: number, bits: number): number {
    const rc = this.rc;
    const input = this.input;
    let range = rc[0];
    let code = rc[1];
    let m = 1;
    for (let i = 0; i < bits; i++) {
      const prob = probs[base + m];
      const bound = (range >>> 11) * prob;
      if (code < bound) {
        range = bound;
        probs[base + m] = prob + ((2048 - prob) >>> 5);
        m <<= 1;
      } else {
        range = (range - bound) >>> 0;
        code = (code - bound) >>> 0;
        probs[base + m] = prob - (prob >>> 5);
        m = (m << 1) | 1;
      }
      if (range < 0x1000000) {
        if (this.inPos >= this.inEnd) throw corrupt('compressed chunk ends early', { at: this.inPos });
        range = (range * 256) >>> 0;
        code = (code * 256 + input[this.inPos++]) >>> 0;
      }
    }
    rc[0] = range;
    rc[1] = code;
    return m - (1 << bits);
  }

  private length(p: LenProbs, posState: number): number {
    if (this.bit(p.choice, 0) === 0) return MATCH_LEN_MIN + this.tree(p.low, posState << LEN_LOW_BITS, LEN_LOW_BITS);
    if (this.bit(p.choice, 1) === 0) return MATCH_LEN_MIN + 8 + this.tree(p.mid, posState << LEN_MID_BITS, LEN_MID_BITS);
    return MATCH_LEN_MIN + 16 + this.tree(p.high, 0, LEN_HIGH_BITS);
  }

  private distance(len: number): number {
    const lenState = len - MATCH_LEN_MIN < DIST_STATES - 1 ? len - MATCH_LEN_MIN : DIST_STATES - 1;
    const slot = this.tree(this.distSlot, lenState << 6, 6);
    if (slot < 4) return slot;
    const direct = (slot >>> 1) - 1;
    const base = ((2 | (slot & 1)) << direct) >>> 0;
    if (slot < END_POS_MODEL_INDEX) return base + this.reverseTree(this.distSpecial, base - slot - 1, direct);
    const high = this.directBits(direct - ALIGN_BITS);
    return (base + ((high << ALIGN_BITS) >>> 0) + this.reverseTree(this.align, 0, ALIGN_BITS)) >>> 0;
  }

  /**
   * Decodes one LZMA2 chunk: compressed bytes `input[inStart, inEnd)` into
   * `out[outPos, outEnd)`, exactly. `dictStart` is where the dictionary was
   * last reset. The range coder is initialised from the chunk's first five
   * bytes and must end with all input consumed and its code at zero.
   *
   * @throws CanopyError ERR_XZ_CORRUPT for any inconsistency.
   */
  decodeChunk(input: Uint8Array, inStart: number, inEnd: number, outPos: number, outEnd: number, dictStart: number): void {
    this.input = input;
    this.inPos = inStart;
    this.inEnd = inEnd;
    if (inEnd - inStart < 5 || input[inStart] !== 0) throw corrupt('bad range coder start', { at: inStart });
    this.rc[1] = (input[inStart + 1] << 24) | (input[inStart + 2] << 16) | (input[inStart + 3] << 8) | input[inStart + 4];
    this.rc[0] = 0xffffffff;
    this.inPos = inStart + 5;
    const out = this.out;
    const pbMask = (1 << this.pb) - 1;
    const lpMask = (1 << this.lp) - 1;
    const lc = this.lc;
    const maxBack = this.dictSize;
    let pos = outPos;
    while (pos < outEnd) {
      const posState = pos & pbMask;
      let state = this.state;
      if (this.bit(this.isMatch, (state << 4) + posState) === 0) {
        const prev = pos > dictStart ? out[pos - 1] : 0;
        const base = 0x300 * (((pos & lpMask) << lc) + (prev >>> (8 - lc)));
        let sym = 1;
        if (state < 7) {
          sym = this.plainLiteral(base);
        } else {
          const from = pos - this.rep0 - 1;
          if (from < dictStart) throw corrupt('matched literal before the dictionary start', { at: pos });
          sym = this.matchedLiteral(base, out[from]);
        }
        out[pos++] = sym & 0xff;
        this.state = state < 4 ? 0 : state < 10 ? state - 3 : state - 6;
        continue;
      }
      let len: number;
      if (this.bit(this.isRep, state) === 0) {
        len = this.length(this.matchLen, posState);
        this.state = state < 7 ? 7 : 10;
        const dist = this.distance(len);
        if (dist === 0xffffffff) throw corrupt('end-of-payload marker inside an LZMA2 chunk', { at: pos });
        this.rep3 = this.rep2;
        this.rep2 = this.rep1;
        this.rep1 = this.rep0;
        this.rep0 = dist;
      } else {
        if (pos <= dictStart) throw corrupt('repeated match with an empty dictionary', { at: pos });
        if (this.bit(this.isRepG0, state) === 0) {
          if (this.bit(this.isRep0Long, (state << 4) + posState) === 0) {
            const from = pos - this.rep0 - 1;
            if (from < dictStart) throw corrupt('short repeat before the dictionary start', { at: pos });
            this.state = state < 7 ? 9 : 11;
            out[pos] = out[from];
            pos++;
            continue;
          }
        } else {
          let dist: number;
          if (this.bit(this.isRepG1, state) === 0) {
            dist = this.rep1;
          } else {
            if (this.bit(this.isRepG2, state) === 0) {
              dist = this.rep2;
            } else {
              dist = this.rep3;
              this.rep3 = this.rep2;
            }
            this.rep2 = this.rep1;
          }
          this.rep1 = this.rep0;
          this.rep0 = dist;
        }
        len = this.length(this.repLen, posState);
        this.state = state < 7 ? 8 : 11;
      }
      const back = this.rep0 + 1;
      if (back > pos - dictStart || back > maxBack) throw corrupt(`match distance ${back} reaches before the dictionary`, { at: pos, distance: back });
      if (len > outEnd - pos) throw corrupt('match runs past the end of the chunk', { at: pos, length: len });
      let from = pos - back;
      if (back >= len) {
        out.copyWithin(pos, from, from + len);
        pos += len;
      } else {
        const stop = pos + len;
        while (pos < stop) out[pos++] = out[from++];
      }
    }
    if (this.inPos !== inEnd) throw corrupt(`chunk has ${inEnd - this.inPos} unused compressed bytes`, { at: this.inPos });
    if (this.rc[1] !== 0) throw corrupt('range coder did not finish cleanly', { at: this.inPos });
  }
}
