import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { deltaPartPath, deltaSuperblockPath } from '../../../agent/src/delta/delta-path';
import { decodeAllOps } from '../../../agent/src/delta/ops';
import { openPartFile } from '../../../agent/src/delta/part';
import { parseSuperblock } from '../../../agent/src/delta/superblock';
import { ROLLSUM_CHUNK_MAX, rollsumChunks, rollsumMatches, rollsumWorthIt, rollsumWrites } from '../../../agent/src/delta/rollsum';
import { deltaFixture, repoFile } from './fixture-repo';

function rebuild(from: Uint8Array, to: Uint8Array): Buffer {
  const r = rollsumMatches(from, to);
  return Buffer.concat(rollsumWrites(r.matches, to.length).map((w) => (w.from === 'source' ? from.subarray(w.fromStart, w.fromStart + w.length) : to.subarray(w.toStart, w.toStart + w.length))));
}

describe('delta/rollsum', function () {
  it('cuts files into contiguous chunks of at most 32 KiB, averaging near 8 KiB on random data', function () {
    const d = randomBytes(2_000_000);
    const chunks = rollsumChunks(d);
    let at = 0;
    for (const c of chunks) {
      assert.equal(c.start, at);
      assert.ok(c.length > 0 && c.length <= ROLLSUM_CHUNK_MAX);
      at += c.length;
    }
    assert.equal(at, d.length);
    const avg = d.length / chunks.length;
    assert.ok(avg > 5000 && avg < 12000, `average chunk ${avg}`);
  });

  it('finds content again after an insertion at the front (content-defined cuts resynchronise)', function () {
    const old = randomBytes(500_000);
    const nw = Buffer.concat([randomBytes(777), old]);
    const r = rollsumMatches(old, nw);
    assert.ok(rollsumWorthIt(r));
    assert.ok(r.matchSize > 450_000);
    assert.deepEqual(rebuild(old, nw), nw);
    assert.equal(rollsumMatches(old, randomBytes(100_000)).matches.length, 0);
  });

  it('rebuilds any new file from its writes', function () {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 3000 }), fc.uint8Array({ maxLength: 300 }), fc.nat(), (base, ins, at) => {
      const old = Buffer.concat([Buffer.from(base), Buffer.from(base)]);
      const p = old.length ? at % old.length : 0;
      const nw = Buffer.concat([old.subarray(0, p), Buffer.from(ins), old.subarray(p)]);
      assert.deepEqual(rebuild(old, nw), nw);
    }), { numRuns: 100 });
  });

  it('reproduces the writes ostree chose for the grown file of the fixture delta', function () {
    const f = deltaFixture();
    if (!f) this.skip();
    const sb = parseSuperblock(repoFile(f!, deltaSuperblockPath(f!.a, f!.b)));
    const part = openPartFile(repoFile(f!, deltaPartPath(f!.a, f!.b, 0)), sb.parts[0], 0);
    const ops = decodeAllOps(part, sb.parts[0].objects);
    // The rollsum'd object: the open whose writes read from a source.
    const opens = ops.flatMap((o, i) => (o.op === 'open' ? [i] : []));
    const start = opens.find((i) => ops.slice(i, ops.findIndex((o, j) => j > i && o.op === 'close')).some((o) => o.op === 'write-source'))!;
    const end = ops.findIndex((o, j) => j > start && o.op === 'close');
    const theirs = ops.slice(start, end).flatMap((o) => (o.op === 'write-source' ? [['source', o.offset, o.size]] : o.op === 'write-payload' ? [['payload', o.size]] : []));
    const from = readFileSync(join(f!.dir, 'A', 'data', 'big.dat'));
    const to = readFileSync(join(f!.dir, 'B', 'data', 'big.dat'));
    const r = rollsumMatches(from, to);
    assert.ok(rollsumWorthIt(r));
    const mine = rollsumWrites(r.matches, to.length).map((w) => (w.from === 'source' ? ['source', w.fromStart, w.length] : ['payload', w.length]));
    assert.deepEqual(mine, theirs);
  });
});
