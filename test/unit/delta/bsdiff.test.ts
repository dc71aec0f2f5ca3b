import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { bspatch, readOfft } from '../../../agent/src/delta/bspatch';
import { bsdiff } from '../../../agent/src/delta/bsdiff';

describe('delta/bsdiff (round trip through bspatch)', function () {
  function roundTrip(old: Uint8Array, nw: Uint8Array): Uint8Array {
    const p = bsdiff(old, nw);
    assert.deepEqual(Buffer.from(bspatch(old, nw.length, p)), Buffer.from(nw));
    return p;
  }

  it('random pairs', function () {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), fc.uint8Array({ maxLength: 300 }), (a, b) => {
      roundTrip(a, b);
    }), { numRuns: 300 });
  });

  it('structured edits of a low-entropy file (flips, inserts, deletes, moved blocks)', function () {
    const edit = fc.oneof(
      fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), v: fc.integer({ min: 1, max: 255 }) }),
      fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 40 }) }),
      fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), n: fc.integer({ min: 1, max: 60 }) }),
      fc.record({ kind: fc.constant('move' as const), at: fc.nat(), to: fc.nat(), n: fc.integer({ min: 1, max: 200 }) }),
    );
    fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: 7 }), { minLength: 0, maxLength: 2000 }), fc.array(edit, { maxLength: 12 }), (base, edits) => {
      const old = Uint8Array.from(base.map((v, i) => (v * 31 + (i & 0xf0)) & 0xff));
      let cur = Array.from(old);
      for (const e of edits) {
        const at = cur.length ? e.at % cur.length : 0;
        if (e.kind === 'flip' && cur.length) cur[at] ^= e.v;
        else if (e.kind === 'insert') cur.splice(at, 0, ...e.bytes);
        else if (e.kind === 'delete') cur.splice(at, e.n);
        else if (e.kind === 'move') {
          const block = cur.splice(at, e.n);
          const to = cur.length ? e.to % cur.length : 0;
          cur.splice(to, 0, ...block);
        }
      }
      roundTrip(old, Uint8Array.from(cur));
    }), { numRuns: 200 });
  });

  it('a lightly modified binary gives a patch that is mostly zeros (compresses well)', function () {
    const old = new Uint8Array(200_000);
    let seed = 1;
    for (let i = 0; i < old.length; i++) {
      seed = (seed * 1664525 + 1013904223) >>> 0;
      old[i] = seed >>> 24;
    }
    const nw = Uint8Array.from(old);
    for (let i = 0; i < nw.length; i += 1000) nw[i] ^= 0xff;
    const p = roundTrip(old, nw);
    let nonZero = 0;
    for (const b of p) if (b !== 0) nonZero++;
    assert.ok(nonZero < 2_000, `${nonZero} non-zero bytes`);
  });

  it('an identical file is one record of zero diff bytes', function () {
    const d = Uint8Array.from({ length: 5000 }, (_, i) => (i * 7) & 0xff);
    const p = roundTrip(d, d);
    assert.equal(p.length, 24 + 5000);
    assert.equal(readOfft(p, 0), 5000);
    assert.ok(p.subarray(24).every((b) => b === 0));
  });
});
