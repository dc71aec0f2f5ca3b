import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { isCanopyError } from '../../../agent/src/core/errors';
import { bspatch, readOfft } from '../../../agent/src/delta/bspatch';
import { writeOfft } from '../../../agent/src/delta/bsdiff';

/** Builds a raw stream from records [x, y, z, diff, extra]. */
function stream(records: Array<[number, number, number, number[], number[]]>): Uint8Array {
  const parts: number[] = [];
  for (const [x, y, z, diff, extra] of records) {
    const h = new Uint8Array(24);
    writeOfft(h, 0, x);
    writeOfft(h, 8, y);
    writeOfft(h, 16, z);
    parts.push(...h, ...diff, ...extra);
  }
  return Uint8Array.from(parts);
}

function rejects(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => isCanopyError(e, 'ERR_BSDIFF_INVALID') && pattern.test(e.message));
}

describe('delta/bspatch', function () {
  it('reads sign-magnitude integers (not two\'s complement)', function () {
    const b = new Uint8Array(8);
    for (const v of [0, 1, 255, 256, 200000, -1, -200000, 2 ** 40 + 5, -(2 ** 52)]) {
      writeOfft(b, 0, v);
      assert.equal(readOfft(b, 0), v);
    }
    // -1 is 01 00 .. 00 80, not ff ff .. ff.
    writeOfft(b, 0, -1);
    assert.deepEqual(Array.from(b), [1, 0, 0, 0, 0, 0, 0, 0x80]);
    // Negative zero reads as zero.
    assert.equal(readOfft(Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0x80]), 0) === 0, true);
  });

  it('applies a hand-made stream: diff bytes add mod 256, extra bytes copy, z seeks', function () {
    const old = Uint8Array.from([10, 20, 30, 40, 50]);
    // new = [10+1, 20+255] then extra [7], seek old back to 0, then diff 2 bytes on [10,20]
    const p = stream([[2, 1, -2, [1, 255], [7]], [2, 0, 0, [0, 0], []]]);
    assert.deepEqual(Array.from(bspatch(old, 5, p)), [11, 19, 7, 10, 20]);
  });

  it('accepts an empty patch for an empty new file', function () {
    assert.equal(bspatch(Uint8Array.from([1, 2]), 0, new Uint8Array(0)).length, 0);
  });

  describe('hostile patches', function () {
    const old = Uint8Array.from([1, 2, 3, 4]);
    it('truncated control record', () => rejects(() => bspatch(old, 4, stream([[4, 0, 0, [0, 0, 0, 0], []]]).subarray(0, 20)), /stream ends/));
    it('truncated diff', () => rejects(() => bspatch(old, 4, stream([[4, 0, 0, [0, 0, 0, 0], []]]).subarray(0, 26)), /past the end of the stream/));
    it('truncated extra', () => rejects(() => bspatch(old, 4, stream([[0, 4, 0, [], [1, 2, 3, 4]]]).subarray(0, 26)), /past the end of the stream/));
    it('negative diff length', () => rejects(() => bspatch(old, 4, stream([[-1, 0, 0, [], []]])), /negative/));
    it('negative extra length', () => rejects(() => bspatch(old, 4, stream([[0, -4, 0, [], []]])), /negative/));
    it('diff past newSize', () => rejects(() => bspatch(old, 2, stream([[4, 0, 0, [0, 0, 0, 0], []]])), /past the new size/));
    it('extra past newSize', () => rejects(() => bspatch(old, 2, stream([[0, 3, 0, [], [1, 2, 3]]])), /past the new size/));
    it('diff reading past the old end', () => rejects(() => bspatch(old, 5, stream([[5, 0, 0, [0, 0, 0, 0, 0], []]])), /outside the old file/));
    it('diff reading before the old start', () => rejects(() => bspatch(old, 3, stream([[0, 1, -3, [], [9]], [2, 0, 0, [0, 0], []]])), /outside the old file/));
    it('trailing bytes after the last record', () => rejects(() => bspatch(old, 1, Uint8Array.from([...stream([[0, 1, 0, [], [9]]]), 0])), /after the last record/));
    it('a record that produces nothing forever is stopped by the end of input', () => rejects(() => bspatch(old, 1, stream([[0, 0, 1, [], []], [0, 0, 1, [], []]])), /stream ends/));
    it('magnitudes past 2^53', () => rejects(() => bspatch(old, 1, Uint8Array.from([0, 0, 0, 0, 0, 0, 0x40, 0, ...new Array(16).fill(0)])), /2\^53/));
    it('any random bytes fail cleanly', function () {
      fc.assert(fc.property(fc.uint8Array({ maxLength: 100 }), fc.nat(64), (p, n) => {
        try {
          const out = bspatch(old, n, p);
          assert.equal(out.length, n);
        } catch (e) {
          assert.ok(isCanopyError(e, 'ERR_BSDIFF_INVALID'), String(e));
        }
      }), { numRuns: 500 });
    });
  });
});
