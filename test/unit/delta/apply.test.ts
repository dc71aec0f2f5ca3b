/**
 * Applying static deltas: the offline flow (commit, partial marker, parts,
 * fallbacks, resume), the puller's seam (any sink, any part source), and
 * hostile deltas. Every hostile case must end in a clear CanopyError with
 * the repository still passing fsck and no ref moved.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { checksumToBytes, sha256Hex } from '../../../agent/src/core/bytes';
import { isCanopyError, type ErrorCode } from '../../../agent/src/core/errors';
import { ObjectType, fileChecksum, type FileHeader } from '../../../agent/src/objects/index';
import { Transaction } from '../../../agent/src/repo/transaction';
import { Repo } from '../../../agent/src/repo/repo';
import { fsck } from '../../../agent/src/repo/fsck';
import { listRefs } from '../../../agent/src/repo/refs';
import {
  COMPRESSION_NONE, COMPRESSION_XZ, applyDeltaParts, applyStaticDeltaOffline, checkFreeSpace, encodeVarint, openDelta,
  parseSuperblock, serializePart, serializeSuperblock, wrapPartFile,
  type DeltaObjectRef, type DeltaObjectSink, type DeltaPart, type DeltaPartHeader, type PartSource,
} from '../../../agent/src/delta/index';
import { generateDelta, PartBuilder } from '../../../agent/src/delta/generate';
import { pseudoRandomBytes } from '../../helpers/nasty-tree';
import { deltaWorld, haveXz, type DeltaWorld } from './delta-trees';

function code(c: ErrorCode, pattern?: RegExp) {
  return (e: unknown): boolean => {
    if (!isCanopyError(e, c)) {
      // Show what came instead of the expected code.
      console.log('    got:', e);
      return false;
    }
    return pattern ? pattern.test(e.message) : true;
  };
}

function objectCount(repo: Repo): number {
  return spawnSync('find', ['objects', '-type', 'f', '-o', '-type', 'l'], { cwd: repo.path, encoding: 'utf8' }).stdout.trim().split('\n').filter(Boolean).length;
}

/** A delta with hand-made (uncompressed unless given) parts, written as a directory. */
function craft(w: DeltaWorld, dir: string, parts: Array<{ file: Buffer; objects: DeltaObjectRef[]; usize: number; size?: number }>, opts: { commit?: Uint8Array; to?: string } = {}): string {
  mkdirSync(dir, { recursive: true });
  const headers: DeltaPartHeader[] = parts.map((p, i) => {
    writeFileSync(join(dir, String(i)), p.file);
    return { version: 0, checksum: sha256Hex(p.file), size: p.size ?? p.file.length, usize: p.usize, objects: p.objects };
  });
  const to = opts.to ?? w.b;
  const commit = opts.commit ?? w.server.readMetadataBytes(ObjectType.COMMIT, to);
  writeFileSync(join(dir, 'superblock'), serializeSuperblock({ metadata: [], timestamp: 0, from: w.a, to, commit, parts: headers, fallbacks: [], endianness: 'l' }));
  return dir;
}

function rawPart(part: DeltaPart): Buffer {
  return wrapPartFile(COMPRESSION_NONE, serializePart(part));
}

function ops(...items: Array<string | number>): Uint8Array {
  const out: number[] = [];
  for (const x of items) typeof x === 'string' ? out.push(x.charCodeAt(0)) : out.push(...encodeVarint(x));
  return Uint8Array.from(out);
}

const REG = { uid: 0, gid: 0, mode: 0o100644 };

describe('delta/apply', function () {
  let w: DeltaWorld;
  /** A canopy delta A -> B (no fallbacks) and one with a fallback. */
  let plainDir: string;
  let fallbackDir: string;
  before(async function () {
    if (!haveXz()) {
      console.log('    (xz not installed: skipping; install the Debian package xz-utils)');
      this.skip();
    }
    w = await deltaWorld();
    plainDir = join(w.dir, 'plain');
    fallbackDir = join(w.dir, 'fallback');
    await generateDelta(w.server, { from: w.a, to: w.b, outputDir: plainDir, minFallbackSize: 0, maxChunkSize: 400_000 });
    await generateDelta(w.server, { from: w.a, to: w.b, outputDir: fallbackDir, minFallbackSize: 500_000 });
  });
  after(() => w?.cleanup());

  /** Runs `f` on a fresh client and checks the aftermath of a refused delta. */
  async function refused(f: (client: Repo) => Promise<unknown>, check: (e: unknown) => boolean, opts: { noWrites?: boolean } = {}): Promise<void> {
    const client = await w.client('bare-user-only');
    const refs = JSON.stringify(listRefs(client));
    const before = objectCount(client);
    await assert.rejects(f(client), check);
    assert.equal((await fsck(client)).ok, true, 'the repository passes fsck');
    assert.equal(JSON.stringify(listRefs(client)), refs, 'no ref moved');
    if (opts.noWrites) assert.equal(objectCount(client), before, 'nothing was written');
  }

  it('applies a canopy delta offline: commit, parts, partial marker cleared, refs untouched', async function () {
    const client = await w.client('bare-user-only');
    const refs = listRefs(client);
    const progress: number[] = [];
    const r = await applyStaticDeltaOffline(client, join(plainDir, 'superblock'), { expectedTo: w.b, onProgress: (p) => progress.push(p.partsDone) });
    assert.ok(r.partsApplied > 2);
    assert.equal(r.complete, true);
    assert.equal(r.missingObjects, 0);
    assert.equal(existsSync(join(client.path, 'state', `${w.b}.commitpartial`)), false);
    assert.deepEqual(listRefs(client), refs, 'apply-offline moves no ref, as ostree');
    assert.equal(progress[progress.length - 1], r.partsApplied);
    assert.equal((await fsck(client)).ok, true);
    // Re-running finds everything in place.
    const again = await applyStaticDeltaOffline(client, plainDir);
    assert.equal(again.partsApplied, 0);
    assert.equal(again.partsSkipped, r.partsApplied);
  });

  it('resumes: parts checkpointed before an interruption are skipped the next time', async function () {
    const client = await w.client('bare-user-only');
    const last = String(parseSuperblock(readFileSync(join(plainDir, 'superblock'))).parts.length - 1);
    renameSync(join(plainDir, last), join(plainDir, `${last}.away`));
    try {
      await assert.rejects(applyStaticDeltaOffline(client, plainDir, { checkpointIntervalMs: 0 }), code('ERR_OBJECT_NOT_FOUND', /delta part \d+ is missing/));
    } finally {
      renameSync(join(plainDir, `${last}.away`), join(plainDir, last));
    }
    assert.ok(existsSync(join(client.path, 'state', `${w.b}.commitpartial`)), 'the commit stays partial');
    assert.equal((await fsck(client)).ok, true);
    const r = await applyStaticDeltaOffline(client, plainDir);
    assert.equal(r.partsApplied, 1, 'only the missing part runs again');
    assert.ok(r.partsSkipped >= 2);
    assert.equal(r.complete, true);
  });

  it('fallbacks: refused offline as by ostree, or applied with the list returned; complete once they are fetched', async function () {
    await refused((c) => applyStaticDeltaOffline(c, fallbackDir), code('ERR_DELTA_UNSUPPORTED', /fallback/), { noWrites: true });
    const client = await w.client('bare-user-only');
    const r = await applyStaticDeltaOffline(client, fallbackDir, { allowMissingFallbacks: true });
    assert.equal(r.missingFallbacks.length, 1);
    assert.equal(r.complete, false);
    assert.equal(r.missingObjects, 1);
    assert.ok(existsSync(join(client.path, 'state', `${w.b}.commitpartial`)));
    const f = r.missingFallbacks[0];
    const o = w.server.readFileObject(f.checksum);
    const tx = new Transaction(client);
    await tx.writeFileObject(f.checksum, o.header, o.content);
    tx.commit();
    const again = await applyStaticDeltaOffline(client, fallbackDir);
    assert.equal(again.complete, true);
    assert.equal(existsSync(join(client.path, 'state', `${w.b}.commitpartial`)), false);
  });

  it('the puller\'s seam: any sink and part source; the commit check runs before anything is written', async function () {
    const client = await w.client('bare-user-only');
    const before = objectCount(client);
    await assert.rejects(applyStaticDeltaOffline(client, plainDir, { verifyCommit: async () => { throw new Error('untrusted'); } }), /untrusted/);
    assert.equal(objectCount(client), before);

    const d = openDelta(readFileSync(join(plainDir, 'superblock')), { to: w.b, from: w.a });
    const got: string[] = [];
    const tx = new Transaction(client);
    const sink: DeltaObjectSink = {
      has: (t, c) => tx.has(c, t),
      writeMetadata: (t, c, bytes) => { got.push(c); tx.writeMetadata(t, bytes); },
      writeContent: async (c, h, content) => { got.push(c); await tx.writeFileObject(c, h, content); },
    };
    const asked: number[] = [];
    const parts: PartSource = { getPart: async (i, h) => { asked.push(i); assert.ok(h.size > 0); return readFileSync(join(plainDir, String(i))); } };
    const r = await applyDeltaParts(client, d, { parts, sink });
    tx.commit();
    assert.deepEqual(asked, d.superblock.parts.map((_, i) => i));
    assert.equal(r.objectsWritten, got.length);
    assert.deepEqual(new Set(got), new Set(d.superblock.parts.flatMap((p) => p.objects.map((o) => o.checksum))));
  });

  it('refuses archive repositories and a file system without room', async function () {
    const d = openDelta(readFileSync(join(plainDir, 'superblock')), { to: w.b });
    await assert.rejects(applyDeltaParts(w.server, d, { parts: { getPart: async () => Buffer.alloc(0) } }), code('ERR_REPO_MODE', /archive/));
    assert.throws(() => checkFreeSpace(w.server, Number.MAX_SAFE_INTEGER), code('ERR_NO_SPACE'));
  });

  describe('hostile deltas', function () {
    it('a truncated part (file, or bytes from a source)', async function () {
      const dir = join(w.dir, 'truncated');
      cpSync(plainDir, dir, { recursive: true });
      const f = readFileSync(join(dir, '1'));
      writeFileSync(join(dir, '1'), f.subarray(0, f.length - 10));
      await refused((c) => applyStaticDeltaOffline(c, dir), code('ERR_DELTA_INVALID', /part 1 .*has \d+ bytes, its header says \d+/));
      const d = openDelta(readFileSync(join(plainDir, 'superblock')), { to: w.b });
      await refused((c) => applyDeltaParts(c, d, { parts: { getPart: async (i) => readFileSync(join(plainDir, String(i))).subarray(1) } }), code('ERR_DELTA_INVALID', /part 0 has \d+ bytes/));
    });

    it('a part whose sha256 does not match its header', async function () {
      const dir = join(w.dir, 'flipped');
      cpSync(plainDir, dir, { recursive: true });
      const f = readFileSync(join(dir, '0'));
      f[f.length >> 1] ^= 0x01;
      writeFileSync(join(dir, '0'), f);
      await refused((c) => applyStaticDeltaOffline(c, dir), code('ERR_CHECKSUM_MISMATCH', /delta part 0: sha256/));
    });

    it('oversized declared lengths: a part header, a part file, an object', async function () {
      const pb = new PartBuilder();
      pb.addFile('11'.repeat(32), { ...REG, symlinkTarget: '', xattrs: [] }, Buffer.from('x'));
      const file = wrapPartFile(COMPRESSION_NONE, pb.finish());
      const huge = craft(w, join(w.dir, 'huge-usize'), [{ file, objects: pb.objects, usize: 2 ** 40 }]);
      await refused((c) => applyStaticDeltaOffline(c, huge), code('ERR_DELTA_INVALID', /uncompressed bytes, more than/), { noWrites: true });
      const bigFile = craft(w, join(w.dir, 'huge-size'), [{ file, objects: pb.objects, usize: 1, size: 2 ** 40 }]);
      await refused((c) => applyStaticDeltaOffline(c, bigFile), code('ERR_DELTA_INVALID', /declares \d+ bytes, more than/), { noWrites: true });
      // An open of 1 TB in a part that declares 100 bytes: refused before anything is allocated.
      const part: DeltaPart = { modes: [REG], xattrs: [[]], payload: new Uint8Array(16), ops: ops('o', 0, 0, 2 ** 40, 'w', 16, 0, 'c') };
      const objects = [{ type: ObjectType.FILE, checksum: '22'.repeat(32) }];
      const big = craft(w, join(w.dir, 'huge-open'), [{ file: rawPart(part), objects, usize: 100 }]);
      await refused((c) => applyStaticDeltaOffline(c, big), code('ERR_DELTA_INVALID', /passes the part's declared uncompressed size 100/));
    });

    it('an opcode writing past the declared object size', async function () {
      const part: DeltaPart = { modes: [REG], xattrs: [[]], payload: new Uint8Array(16), ops: ops('o', 0, 0, 4, 'w', 10, 0, 'c') };
      const dir = craft(w, join(w.dir, 'overwrite'), [{ file: rawPart(part), objects: [{ type: ObjectType.FILE, checksum: '33'.repeat(32) }], usize: 4 }]);
      await refused((c) => applyStaticDeltaOffline(c, dir), code('ERR_DELTA_INVALID', /write of 10 bytes passes the object size 4/));
    });

    it('bspatch offsets outside the old file', async function () {
      const oldApp = readFileSync(join(w.treeA, 'bin/app'));
      const source = fileChecksum({ ...REG, mode: 0o100755, symlinkTarget: '', xattrs: [] }, oldApp);
      // Record 1 seeks to the end of the old file; record 2 diffs 10 bytes from there.
      const patch = Buffer.alloc(48 + 10);
      patch.writeUInt32LE(oldApp.length, 16);
      patch.writeUInt32LE(10, 24);
      const payload = Buffer.concat([checksumToBytes(source), patch]);
      const part: DeltaPart = { modes: [REG], xattrs: [[]], payload, ops: ops('r', 0, 'o', 0, 0, 10, 'B', 32, patch.length, 'c', 'R') };
      const dir = craft(w, join(w.dir, 'bspatch'), [{ file: rawPart(part), objects: [{ type: ObjectType.FILE, checksum: '44'.repeat(32) }], usize: 10 }]);
      await refused((c) => applyStaticDeltaOffline(c, dir), code('ERR_BSDIFF_INVALID', /outside the old file/));
      // And a rollsum copy from past the end of the old object.
      const rs: DeltaPart = { modes: [REG], xattrs: [[]], payload: checksumToBytes(source), ops: ops('o', 0, 0, 8, 'r', 0, 'w', 8, oldApp.length - 4, 'R', 'c') };
      const dir2 = craft(w, join(w.dir, 'rollsum'), [{ file: rawPart(rs), objects: [{ type: ObjectType.FILE, checksum: '45'.repeat(32) }], usize: 8 }]);
      await refused((c) => applyStaticDeltaOffline(c, dir2), code('ERR_DELTA_INVALID', /reads bytes \[\d+, \d+\) of file object/));
    });

    it('a decompression bomb (xz or uncompressed) is refused before it is inflated', async function () {
      const pb = new PartBuilder();
      pb.addFile('55'.repeat(32), { ...REG, symlinkTarget: '', xattrs: [] }, Buffer.alloc(64 << 20));
      const raw = pb.finish();
      const xz = spawnSync('xz', ['-c', '-1'], { input: raw, maxBuffer: 1 << 28 }).stdout;
      assert.ok(xz.length < 100_000, 'the bomb is small on the wire');
      const objects = pb.objects;
      const bomb = craft(w, join(w.dir, 'bomb'), [{ file: wrapPartFile(COMPRESSION_XZ, xz), objects, usize: 1000 }]);
      await refused((c) => applyStaticDeltaOffline(c, bomb), code('ERR_DECOMPRESS_TOO_LARGE'));
      const plain = craft(w, join(w.dir, 'bomb-none'), [{ file: wrapPartFile(COMPRESSION_NONE, pseudoRandomBytes(3 << 20, 1)), objects, usize: 1000 }]);
      await refused((c) => applyStaticDeltaOffline(c, plain), code('ERR_DECOMPRESS_TOO_LARGE'));
    });

    it('a superblock for another commit than the trusted one, or whose commit was altered', async function () {
      await refused((c) => applyStaticDeltaOffline(c, plainDir, { expectedTo: w.a }), code('ERR_DELTA_INVALID', /targets commit .* not the verified commit/), { noWrites: true });
      const forged = craft(w, join(w.dir, 'forged'), [], { commit: w.server.readMetadataBytes(ObjectType.COMMIT, w.a), to: w.b });
      await refused((c) => applyStaticDeltaOffline(c, forged), code('ERR_CHECKSUM_MISMATCH', /embedded commit does not hash/), { noWrites: true });
    });

    it('objects that do not hash to their names, and a symlink target that is not UTF-8', async function () {
      const meta: DeltaPart = { modes: [], xattrs: [], payload: Buffer.from('not a dirtree'), ops: ops('S', 13, 0) };
      const dir = craft(w, join(w.dir, 'badmeta'), [{ file: rawPart(meta), objects: [{ type: ObjectType.DIR_TREE, checksum: '66'.repeat(32) }], usize: 13 }]);
      await refused((c) => applyStaticDeltaOffline(c, dir), code('ERR_CHECKSUM_MISMATCH', /dirtree object 6{64} comes out as/));
      const h: FileHeader = { ...REG, symlinkTarget: '', xattrs: [] };
      const content = Buffer.from('hello');
      const wrong: DeltaPart = { modes: [REG], xattrs: [[]], payload: content, ops: ops('S', 0, 0, 5, 0) };
      const dir2 = craft(w, join(w.dir, 'badfile'), [{ file: rawPart(wrong), objects: [{ type: ObjectType.FILE, checksum: fileChecksum({ ...h, mode: 0o100600 }, content) }], usize: 5 }]);
      await refused((c) => applyStaticDeltaOffline(c, dir2), code('ERR_CHECKSUM_MISMATCH', /file object .* comes out as/));
      const link: DeltaPart = { modes: [{ uid: 0, gid: 0, mode: 0o120777 }], xattrs: [[]], payload: Buffer.from([0xff, 0xfe]), ops: ops('S', 0, 0, 2, 0) };
      const dir3 = craft(w, join(w.dir, 'badlink'), [{ file: rawPart(link), objects: [{ type: ObjectType.FILE, checksum: '77'.repeat(32) }], usize: 0 }]);
      await refused((c) => applyStaticDeltaOffline(c, dir3), code('ERR_OBJECT_INVALID', /not UTF-8/));
    });

    it('objects a bare-user-only repository cannot store (setuid, owners, xattrs)', async function () {
      const h = { uid: 0, gid: 0, mode: 0o104755 };
      const content = Buffer.from('#!/bin/sh\n');
      const c = fileChecksum({ ...h, symlinkTarget: '', xattrs: [] }, content);
      const part: DeltaPart = { modes: [h], xattrs: [[]], payload: content, ops: ops('S', 0, 0, content.length, 0) };
      const dir = craft(w, join(w.dir, 'setuid'), [{ file: rawPart(part), objects: [{ type: ObjectType.FILE, checksum: c }], usize: content.length }]);
      await refused((cl) => applyStaticDeltaOffline(cl, dir), code('ERR_REPO_MODE', /has mode 04755/));
    });
  });
});
