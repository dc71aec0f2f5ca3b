import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { suffixArray } from '../../../agent/src/delta/suffix-array';

function naive(d: Uint8Array): number[] {
  const b = Buffer.from(d);
  return Array.from({ length: d.length + 1 }, (_, i) => i).sort((x, y) => Buffer.compare(b.subarray(x), b.subarray(y)));
}

describe('delta/suffix-array', function () {
  it('matches a naive sort on small alphabets (deep recursion) and full bytes', function () {
    fc.assert(fc.property(fc.integer({ min: 1, max: 256 }), fc.array(fc.nat(255), { maxLength: 200 }), (alpha, raw) => {
      const d = Uint8Array.from(raw.map((v) => v % alpha));
      assert.deepEqual(Array.from(suffixArray(d)), naive(d));
    }), { numRuns: 500 });
  });

  it('handles runs and periodic input', function () {
    for (const d of [new Uint8Array(0), new Uint8Array(1000), Uint8Array.from({ length: 999 }, (_, i) => i % 3), Uint8Array.from({ length: 512 }, (_, i) => (i & 1 ? 7 : i % 5))]) {
      assert.deepEqual(Array.from(suffixArray(d)), naive(d));
    }
  });
});
