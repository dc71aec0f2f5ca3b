/**
 * The delta generator: pairing rules, per-pair decisions, the part
 * builder's opcode sequences, the bsdiff worker pool, and whole deltas of
 * the A -> B world that the applier turns back into B.
 */
import { strict as assert } from 'node:assert';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { isCanopyError } from '../../../agent/src/core/errors';
import { sha256Hex } from '../../../agent/src/core/bytes';
import { serialize, variant } from '../../../agent/src/gvariant/index';
import { ObjectType, fileChecksum } from '../../../agent/src/objects/index';
import { Transaction } from '../../../agent/src/repo/transaction';
import { checkout } from '../../../agent/src/repo/checkout';
import { fsck } from '../../../agent/src/repo/fsck';
import {
  applyStaticDeltaOffline, bspatch, decodeAllOps, deltaDir, openDelta, parsePart, parseSuperblock, unwrapPartFile,
} from '../../../agent/src/delta/index';
import { BsdiffPool, PartBuilder, decidePair, generateDelta, pairModifiedFiles, type PairStat } from '../../../agent/src/delta/generate';
import { pseudoRandomBytes } from '../../helpers/nasty-tree';
import { assertTreesEqual } from '../../helpers/tree-compare';
import { deltaWorld, haveXz, type DeltaWorld } from './delta-trees';

describe('delta/compile: pairing', function () {
  const stat = (sizes: Record<string, number>, modes: Record<string, number> = {}) => (c: string): PairStat => ({ size: sizes[c], isLink: false, mode: modes[c] ?? 0o100644 });

  it('prefers the same path, then the same basename within ±30%, then the name before the first dot', function () {
    const pairs = pairModifiedFiles({
      newFiles: new Map([['n1', ['/usr/bin/tool']], ['n2', ['/usr/lib/libx.so.2']], ['n3', ['/opt/README']], ['n4', ['/srv/libz.so.1.4']]]),
      oldFiles: new Map([['o1', ['/usr/bin/tool']], ['o1b', ['/other/tool']], ['o2', ['/usr/lib/libx.so.2']], ['o3', ['/doc/README']], ['o4', ['/srv/libz.so.1.3']]]),
      stat: stat({ n1: 1000, n2: 1000, n3: 1000, n4: 1000, o1: 600, o1b: 1000, o2: 1200, o3: 1250, o4: 1100 }),
    });
    assert.deepEqual(pairs.get('n1'), { from: 'o1', kind: 'path' }, 'same path, within a factor of 2');
    assert.deepEqual(pairs.get('n2'), { from: 'o2', kind: 'path' });
    assert.deepEqual(pairs.get('n3'), { from: 'o3', kind: 'basename' });
    assert.deepEqual(pairs.get('n4'), { from: 'o4', kind: 'fuzzy' });
  });

  it('keeps OSTree\'s rule without path pairing, and picks the closest size among name matches', function () {
    const input = {
      newFiles: new Map([['n', ['/a/tool']]]),
      oldFiles: new Map([['far', ['/a/tool']], ['close', ['/b/tool']], ['small', ['/c/tool']]]),
      stat: stat({ n: 1000, far: 1290, close: 1010, small: 710 }),
    };
    assert.deepEqual(pairModifiedFiles({ ...input, pathFirst: false }).get('n'), { from: 'close', kind: 'basename' });
    assert.deepEqual(pairModifiedFiles(input).get('n'), { from: 'far', kind: 'path' });
  });

  it('never pairs empty, .xz/.bz2, non-world-readable or out-of-range files', function () {
    const pairs = pairModifiedFiles({
      newFiles: new Map([['e', ['/e']], ['x', ['/d/f.xz']], ['b', ['/d/g.bz2']], ['r', ['/r']], ['big', ['/big']]]),
      oldFiles: new Map([['e0', ['/e']], ['x0', ['/d/f.xz']], ['b0', ['/d/g.bz2']], ['r0', ['/r']], ['big0', ['/x/big']]]),
      stat: stat({ e: 0, e0: 10, x: 100, x0: 100, b: 100, b0: 100, r: 100, r0: 100, big: 1000, big0: 1400 }, { r0: 0o100600 }),
      pathFirst: false,
    });
    assert.equal(pairs.size, 0);
  });
});

describe('delta/compile: decisions and part builder', function () {
  const opts = { useBsdiff: true, useRollsum: true, maxBsdiff: 128e6 };

  it('rollsum when chunks of the old file cover >= 90% of the new one, else bsdiff, else plain', function () {
    const old = pseudoRandomBytes(400_000, 3);
    const grown = Buffer.concat([old, pseudoRandomBytes(4_000, 4)]);
    assert.equal(decidePair(old, grown, opts).kind, 'rollsum');
    const edited = Buffer.from(old);
    for (let i = 0; i < edited.length; i += 500) edited[i] ^= 1;
    assert.equal(decidePair(old, edited, opts).kind, 'bsdiff');
    assert.equal(decidePair(old, edited, { ...opts, maxBsdiff: 100 }).kind, 'plain');
    assert.equal(decidePair(old, edited, { ...opts, useBsdiff: false }).kind, 'plain');
    assert.equal(decidePair(old.subarray(0, 1000), edited.subarray(0, 1000), opts).kind, 'bsdiff', 'small files skip rollsum');
    const gz = Buffer.concat([Buffer.from([0x1f, 0x8b]), pseudoRandomBytes(100_000, 9)]);
    assert.equal(decidePair(old, gz, { ...opts, kind: 'basename' }).kind, 'plain', 'compressed data paired by name only ships whole');
    assert.equal(decidePair(old, gz, { ...opts, kind: 'path' }).kind, 'bsdiff', 'the same path (a package update) is still diffed');
  });

  it('writes the opcode sequences OSTree writes, which decode back to the objects', function () {
    const old = pseudoRandomBytes(5000, 8);
    const nw = Buffer.concat([old.subarray(0, 3000), Buffer.from('new bytes'), old.subarray(3000)]);
    const h = { uid: 0, gid: 0, mode: 0o100644, symlinkTarget: '', xattrs: [] };
    const csum = fileChecksum(h, nw);
    const from = sha256Hex(old);
    const pb = new PartBuilder();
    pb.addMetadata(ObjectType.DIR_META, 'aa'.repeat(32), Buffer.from('meta'));
    pb.addFile('bb'.repeat(32), { ...h, mode: 0o120777, symlinkTarget: 'target' }, Buffer.alloc(0));
    pb.addRollsum(csum, h, nw, from, [{ from: 'source', fromStart: 0, length: 3000 }, { from: 'payload', toStart: 3000, length: 9 }, { from: 'source', fromStart: 3000, length: 2000 }]);
    pb.addBsdiff(csum, h, nw.length, from, Buffer.alloc(24));
    assert.equal(pb.usize, 4 + nw.length * 2, 'usize counts metadata and regular content, not symlink targets');
    const part = parsePart(pb.finish());
    assert.equal(part.modes.length, 2, 'the mode table is deduplicated');
    const ops = decodeAllOps(part, pb.objects).map((o) => o.op);
    assert.deepEqual(ops, [
      'splice-meta', 'splice-content',
      'open', 'set-read-source', 'write-source', 'unset-read-source', 'write-payload', 'set-read-source', 'write-source', 'unset-read-source', 'close',
      'set-read-source', 'open', 'bspatch', 'close', 'unset-read-source',
    ]);
  });

  it('the bsdiff pool gives the same patches from worker threads and inline', async function () {
    const old = pseudoRandomBytes(200_000, 5);
    const nw = Buffer.from(old);
    for (let i = 0; i < nw.length; i += 777) nw[i] ^= 0x20;
    const threads = new BsdiffPool(2);
    const inline = new BsdiffPool(0);
    try {
      const [a, b, c] = await Promise.all([threads.diff(() => ({ old, nw })), threads.diff(() => ({ old, nw })), inline.diff(() => ({ old, nw }))]);
      assert.deepEqual(Buffer.from(a.patch), Buffer.from(c.patch));
      assert.deepEqual(Buffer.from(b.patch), Buffer.from(c.patch));
      assert.ok(Buffer.from(bspatch(old, nw.length, a.patch)).equals(nw));
      assert.ok(a.patchCost < a.rawCost, 'a patch of a lightly edited file compresses better than the file');
    } finally {
      await threads.close();
      await inline.close();
    }
  });

  it('a job whose worker thread ends without answering runs again inline, and the patch is the same', async () => {
    const old = pseudoRandomBytes(400_000, 6);
    const nw = Buffer.from(old);
    for (let i = 0; i < nw.length; i += 555) nw[i] ^= 0x40;
    const pool = new BsdiffPool(1);
    try {
      const first = pool.diff(() => ({ old, nw }));
      const [worker] = (pool as unknown as { workers: Array<{ terminate(): Promise<number> }> }).workers;
      await worker.terminate();
      const patch = (await first).patch;
      assert.ok(Buffer.from(bspatch(old, nw.length, patch)).equals(nw));
      assert.equal(pool.jobsInline, 1, 'the job ran on this thread once its worker was gone');
      assert.equal(Buffer.from((await pool.diff(() => ({ old, nw }))).patch).equals(Buffer.from(patch)), true, 'and later jobs too');
    } finally {
      await pool.close();
    }
  });
});

describe('delta/compile: generateDelta', function () {
  let w: DeltaWorld;
  before(async function () {
    if (!haveXz()) {
      console.log('    (xz not installed: skipping; install the Debian package xz-utils)');
      this.skip();
    }
    w = await deltaWorld();
  });
  after(() => w?.cleanup());

  async function applyAndCompare(dir: string, from: string | null, fallbacksFromServer = false): Promise<void> {
    const client = from === null ? (await import('../../../agent/src/repo/repo')).Repo.init(join(w.dir, `empty-${Math.random()}`), { mode: 'bare-user-only' }) : await w.client('bare-user-only');
    if (fallbacksFromServer) {
      const d = openDelta(readFileSync(join(dir, 'superblock')), { to: w.b });
      const tx = new Transaction(client);
      for (const f of d.fallbacks) {
        const o = w.server.readFileObject(f.checksum);
        await tx.writeFileObject(f.checksum, o.header, o.content);
      }
      tx.commit();
    }
    const r = await applyStaticDeltaOffline(client, dir, { expectedTo: w.b });
    assert.equal(r.complete, true);
    assert.equal((await fsck(client)).ok, true);
    const out = join(w.dir, `co-${Math.random()}`);
    await checkout(client, w.b, out);
    assertTreesEqual(w.treeB, out, { owner: false, xattrs: false, modeMask: 0o755, ignoreRoot: true });
  }

  it('A -> B: bsdiff, rollsum, x86 and plain parts, a fallback, and it applies back to B', async function () {
    const dir = join(w.dir, 'ab');
    const r = await generateDelta(w.server, { from: w.a, to: w.b, outputDir: dir, minFallbackSize: 500_000, timestamp: 1_800_000_000 });
    assert.ok(r.counts.bsdiff >= 1, 'bin/app is bsdiff\'ed');
    assert.equal(r.counts.rollsum, 1, 'var/log.txt grew at the end: rollsum');
    assert.equal(r.counts.x86, 1, 'bin/tool-x86 goes to the x86 part');
    assert.equal(r.fallbacks.length, 1, 'share/blob.bin is a fallback');
    assert.equal(r.fallbacks[0].usize, 600_000);
    const sb = parseSuperblock(readFileSync(join(dir, 'superblock')));
    assert.equal(sb.timestamp, 1_800_000_000);
    assert.equal(sb.endianness, 'l');
    assert.equal(sb.parts.length, 3, 'diffs, x86 code, other files');
    assert.ok(sb.parts[0].objects.some((o) => o.type === ObjectType.DIR_TREE), 'metadata is in the first part');
    // The x86 part's xz block header lists the x86 filter (0x04) before LZMA2; the others do not.
    const filters = (i: number): number[] => {
      const f = readFileSync(join(dir, String(i)));
      const block = 1 + 12;
      const n = (f[block + 1] & 3) + 1;
      return n === 2 ? [f[block + 2], 0x21] : [f[block + 2]];
    };
    assert.deepEqual(filters(1), [0x04, 0x21]);
    assert.deepEqual(filters(0), [0x21]);
    await applyAndCompare(dir, w.a, true);
  });

  it('scratch delta, inline parts and big-endian headers apply too', async function () {
    const scratch = join(w.dir, 'scratch');
    await generateDelta(w.server, { from: null, to: w.b, outputDir: scratch });
    assert.deepEqual(readdirSync(scratch).sort(), ['0', '1', '2', 'superblock'], 'metadata, x86 code, other files');
    const ssb = parseSuperblock(readFileSync(join(scratch, 'superblock')));
    assert.ok(ssb.parts[0].objects.every((o) => o.type !== ObjectType.FILE), 'from nothing, the first part holds only metadata');
    await applyAndCompare(scratch, null);

    const inline = join(w.dir, 'inline');
    await generateDelta(w.server, { from: w.a, to: w.b, outputDir: inline, inline: true, endianness: 'B' });
    assert.deepEqual(readdirSync(inline), ['superblock']);
    const sb = parseSuperblock(readFileSync(join(inline, 'superblock')));
    assert.equal(sb.endianness, 'B');
    assert.ok(sb.metadata.some(([k]) => k === `${deltaDir(w.a, w.b)}/0`), 'part 0 is inline under its delta path');
    await applyAndCompare(inline, w.a);
  });

  it('carries the target\'s detached metadata (signatures) and writes into deltas/ by default', async function () {
    const meta = serialize('a{sv}', [['canopy.test', variant('s', 'signed')]]);
    const tx = new Transaction(w.server);
    tx.writeCommitMeta(w.b, meta);
    tx.commit();
    const r = await generateDelta(w.server, { from: w.a, to: w.b });
    assert.equal(r.dir, join(w.server.path, deltaDir(w.a, w.b)));
    const d = openDelta(readFileSync(join(r.dir, 'superblock')), { to: w.b, from: w.a });
    assert.deepEqual(Buffer.from(d.commitMeta!), Buffer.from(meta));
    const client = await w.client('bare-user-only');
    await applyStaticDeltaOffline(client, r.dir);
    assert.deepEqual(client.readCommitMeta(w.b), Buffer.from(meta));
  });

  it('every part decompresses within the applier\'s limit and hashes to its header', async function () {
    const dir = join(w.dir, 'check');
    await generateDelta(w.server, { from: w.a, to: w.b, outputDir: dir, maxChunkSize: 200_000 });
    const sb = parseSuperblock(readFileSync(join(dir, 'superblock')));
    assert.ok(sb.parts.length > 3, 'a small max chunk size splits the parts');
    sb.parts.forEach((h, i) => {
      const f = readFileSync(join(dir, String(i)));
      assert.equal(sha256Hex(f), h.checksum);
      unwrapPartFile(f, 2 * h.usize + (1 << 20) + h.objects.length * 4160);
    });
    // Generating again into the same directory with fewer parts leaves no stale part behind.
    await generateDelta(w.server, { from: w.a, to: w.b, outputDir: dir });
    assert.deepEqual(readdirSync(dir).sort(), ['0', '1', '2', 'superblock']);
  });

  it('fails cleanly for a commit that is not in the repository', async function () {
    await assert.rejects(generateDelta(w.server, { from: w.a, to: 'ee'.repeat(32), outputDir: join(w.dir, 'none') }), (e: unknown) => isCanopyError(e, 'ERR_OBJECT_NOT_FOUND'));
    assert.equal(existsSync(join(w.dir, 'none', 'superblock')), false);
  });
});
