/**
 * The pull's object writer: exact modes, owners, mtime 0 and xattrs as a
 * bare repository stores them; archive objects kept byte for byte; only
 * completed writes reach `objects/`; an unawaited failed write still fails
 * the pull; abort leaves nothing behind.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { sha256Hex } from '../../../agent/src/core/bytes';
import { isCanopyError } from '../../../agent/src/core/errors';
import { archiveHeaderBytes, fileChecksum, ObjectType, parseArchiveHeader, serializeDirMeta, type FileHeader } from '../../../agent/src/objects/index';
import { PullWriter, SPARE_STAGING } from '../../../agent/src/pull/pull-writer';
import { readXattrsOf, Repo } from '../../../agent/src/repo/index';

const hasSetfattr = spawnSync('setfattr', ['--version']).status === 0;
const isRoot = process.getuid?.() === 0;

/** A `.filez` of `content` with its checksum and where its DEFLATE data starts. */
function filez(content: Buffer, h: FileHeader): { checksum: string; filez: Buffer; dataOffset: number } {
  const bytes = Buffer.concat([archiveHeaderBytes(h, content.length), deflateRawSync(content)]);
  return { checksum: fileChecksum(h, content), filez: bytes, dataOffset: parseArchiveHeader(bytes).dataOffset };
}

describe('pull/pull-writer', () => {
  let dir: string;
  let n = 0;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'canopy-writer-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const repo = (mode: 'archive' | 'bare' | 'bare-user-only'): Repo => Repo.init(join(dir, `r${n++}`), { mode });

  it('bare-user-only: exact mode whatever the umask, mtime 0, symlinks; fsck-able checksums', async () => {
    const r = repo('bare-user-only');
    const w = new PullWriter(r, 60_000);
    const h: FileHeader = { uid: 0, gid: 0, mode: 0o100775, symlinkTarget: '', xattrs: [] };
    const data = Buffer.from('#!/bin/sh\n');
    const c = fileChecksum(h, data);
    const l: FileHeader = { uid: 0, gid: 0, mode: 0o120777, symlinkTarget: '../x', xattrs: [] };
    const lc = fileChecksum(l);
    await Promise.all([w.writeContent(c, h, data), w.writeContent(lc, l, Buffer.alloc(0))]);
    assert.equal(w.has(ObjectType.FILE, c), true, 'staged objects count as present');
    assert.equal(r.hasObject(c, ObjectType.FILE), false, 'not in objects/ before a checkpoint');
    await w.finish();
    const st = lstatSync(r.objectPath(c, ObjectType.FILE));
    assert.equal(st.mode & 0o7777, 0o775);
    assert.equal(st.mtimeMs, 0);
    assert.equal(r.readFileObject(c).content.toString(), data.toString());
    assert.equal(lstatSync(r.objectPath(lc, ObjectType.FILE)).isSymbolicLink(), true);
    r.readFileObject(lc);
    assert.equal(existsSync(w.scratch), false, 'scratch removed');
  });

  it('bare (root): owner, setuid and xattrs survive', async function () {
    if (!isRoot || !hasSetfattr) this.skip(); // needs root and the Debian package attr
    const r = repo('bare');
    const w = new PullWriter(r, 60_000);
    const h: FileHeader = { uid: 4242, gid: 4343, mode: 0o104755, symlinkTarget: '', xattrs: [{ name: 'user.canopy', value: Buffer.from('yes') }] };
    const data = Buffer.from('binary');
    const c = fileChecksum(h, data);
    await w.writeContent(c, h, data);
    await w.finish();
    const p = r.objectPath(c, ObjectType.FILE);
    const st = lstatSync(p);
    assert.deepEqual([st.uid, st.gid, st.mode & 0o7777], [4242, 4343, 0o4755]);
    assert.deepEqual(readXattrsOf([p]).get(p)?.map((x) => [x.name, Buffer.from(x.value).toString()]), [['user.canopy', 'yes']]);
  });

  it('bare (root): a symlink keeps its xattrs, written here or by a store worker', async function () {
    if (!isRoot || !hasSetfattr) this.skip(); // trusted.* xattrs need root; the Debian package attr
    const r = repo('bare');
    const l: FileHeader = { uid: 0, gid: 0, mode: 0o120777, symlinkTarget: 'target', xattrs: [{ name: 'trusted.canopy', value: Buffer.from('link') }] };
    const w = new PullWriter(r, 60_000);
    await w.writeContent(fileChecksum(l), l, Buffer.alloc(0));
    await w.finish();
    const l2: FileHeader = { ...l, symlinkTarget: 'other' };
    const f = filez(Buffer.alloc(0), l2);
    const bytes = f.filez.subarray(0, f.dataOffset);
    const w2 = new PullWriter(r, 60_000, Date.now, 1);
    await w2.handOver(f.checksum, parseArchiveHeader(bytes).header, bytes, f.dataOffset);
    await w2.finish();
    for (const c of [fileChecksum(l), f.checksum]) {
      const p = r.objectPath(c, ObjectType.FILE);
      assert.equal(lstatSync(p).isSymbolicLink(), true);
      assert.deepEqual(readXattrsOf([p]).get(p)?.map((x) => [x.name, Buffer.from(x.value).toString()]), [['trusted.canopy', 'link']], p);
      // Read back with its xattrs, the object still hashes to its name.
      r.readFileObject(c);
    }
  });

  it('archive: keeps the fetched .filez bytes, and compresses plain content', async () => {
    const r = repo('archive');
    const w = new PullWriter(r, 60_000);
    const h: FileHeader = { uid: 0, gid: 0, mode: 0o100644, symlinkTarget: '', xattrs: [] };
    const data = Buffer.from('hello\n');
    const raw = Buffer.concat([archiveHeaderBytes(h, data.length), deflateRawSync(data, { level: 1 })]);
    const c = fileChecksum(h, data);
    await w.writeArchiveRaw(c, raw);
    const d2 = Buffer.from('other\n');
    await w.writeContent(fileChecksum(h, d2), h, d2);
    await w.finish();
    assert.ok(readFileSync(r.objectPath(c, ObjectType.FILE)).equals(raw));
    assert.equal(r.readFileObject(fileChecksum(h, d2)).content.toString(), 'other\n');
  });

  it('checkpoints in the background and moves only completed objects', async () => {
    const r = repo('bare-user-only');
    let t = 0;
    const w = new PullWriter(r, 10, () => t);
    const meta = serializeDirMeta({ uid: 0, gid: 0, mode: 0o40755, xattrs: [] });
    const mc = sha256Hex(meta);
    await w.writeMetadata(ObjectType.DIR_META, mc, meta);
    w.maybeCheckpoint();
    assert.equal(r.hasObject(mc, ObjectType.DIR_META), false, 'not before the interval');
    t = 100;
    w.maybeCheckpoint();
    await (w as unknown as { running?: Promise<void> }).running;
    assert.equal(r.hasObject(mc, ObjectType.DIR_META), true, 'moved by the checkpoint');
    assert.ok(readFileSync(r.objectPath(mc, ObjectType.DIR_META)).equals(meta));
    await w.finish();
  });

  it('a failed write that nobody awaited fails finish(); abort leaves objects/ untouched', async () => {
    const r = repo('bare-user-only');
    const w = new PullWriter(r, 60_000);
    const meta = serializeDirMeta({ uid: 0, gid: 0, mode: 0o40700, xattrs: [] });
    const mc = sha256Hex(meta);
    // Something is in the way of the staged file: the write fails (EEXIST).
    mkdirSync(join(w.scratch, 'objects', mc.slice(0, 2)), { recursive: true });
    writeFileSync(join(w.scratch, 'objects', mc.slice(0, 2), `${mc}.dirmeta`), 'in the way');
    void w.writeMetadata(ObjectType.DIR_META, mc, meta);
    await assert.rejects(w.finish(), (e) => isCanopyError(e, 'ERR_IO'));
    await w.abort();
    assert.equal(r.hasObject(mc, ObjectType.DIR_META), false);
    assert.deepEqual(readdirSync(join(r.path, 'tmp')).filter((x) => x.startsWith('staging-')), []);
    const w2 = new PullWriter(r, 60_000);
    await w2.writeMetadata(ObjectType.DIR_META, mc, meta);
    await w2.abort();
    assert.equal(r.hasObject(mc, ObjectType.DIR_META), false, 'abort drops what was not checkpointed');
  });

  it('a finished pull parks its emptied scratch tree and the next takes it over; an aborted one, or a leftover in the spool, is not parked', async () => {
    const r = repo('bare-user-only');
    const tmp = join(r.path, 'tmp');
    const spare = join(tmp, SPARE_STAGING);
    const meta = (mode: number): [string, Buffer] => {
      const b = serializeDirMeta({ uid: 0, gid: 0, mode, xattrs: [] });
      return [sha256Hex(b), b];
    };
    const [c1, m1] = meta(0o40700);
    const w1 = new PullWriter(r, 60_000);
    await w1.writeMetadata(ObjectType.DIR_META, c1, m1);
    await w1.finish();
    assert.deepEqual(readdirSync(tmp).filter((x) => x.startsWith('staging-')), []);
    assert.deepEqual(readdirSync(join(spare, 'objects')), [c1.slice(0, 2)], 'parked with its (empty) prefix directory');
    assert.deepEqual(readdirSync(join(spare, 'objects', c1.slice(0, 2))), []);

    const [c2, m2] = meta(0o40755);
    const w2 = new PullWriter(r, 60_000);
    assert.equal(existsSync(spare), false, 'taken over by the next writer');
    assert.equal(existsSync(join(w2.scratch, 'objects', c1.slice(0, 2))), true);
    await w2.writeMetadata(ObjectType.DIR_META, c2, m2);
    // A second writer at the same time finds no spare and makes its own tree.
    const w3 = new PullWriter(r, 60_000);
    assert.deepEqual(readdirSync(join(w3.scratch, 'objects')), []);
    await w2.finish();
    await w3.finish();
    assert.equal(r.hasObject(c2, ObjectType.DIR_META), true);
    assert.deepEqual(readdirSync(tmp).filter((x) => x.startsWith('staging-')), [], 'the second finisher removes its tree: one spare at most');
    assert.equal(existsSync(spare), true);

    // Aborted: staged objects are dropped with the tree, and the spare it took is gone.
    const [c3, m3] = meta(0o40711);
    const w4 = new PullWriter(r, 60_000);
    await w4.writeMetadata(ObjectType.DIR_META, c3, m3);
    await w4.abort();
    assert.deepEqual(readdirSync(tmp).filter((x) => x.startsWith('staging-') || x === SPARE_STAGING), []);
    assert.equal(r.hasObject(c3, ObjectType.DIR_META), false);

    // Something left in the spool is not parked; a spare of the wrong shape is removed, not used.
    const w5 = new PullWriter(r, 60_000);
    writeFileSync(join(w5.spoolDir, 'left.part'), 'x');
    await w5.finish();
    assert.equal(existsSync(spare), false);
    mkdirSync(spare);
    const w6 = new PullWriter(r, 60_000);
    assert.equal(existsSync(spare), false);
    assert.equal(existsSync(w6.spoolDir), true);
    await w6.finish();
    assert.equal(existsSync(join(spare, 'spool')), true);
  });

  describe('the flush helper', () => {
    /** Metadata-like objects of 1.5 MiB each: the writer does not look inside them. */
    const blob = (i: number): [string, Buffer] => {
      const b = Buffer.alloc(3 << 19, i + 1);
      return [sha256Hex(b), b];
    };
    /** Whether a process has `scratch` on its command line (the helper gets it as an argument). */
    const helperRunning = (scratch: string): boolean => readdirSync('/proc').some((pid) => {
      try {
        return /^\d+$/.test(pid) && readFileSync(`/proc/${pid}/cmdline`, 'latin1').includes(scratch);
      } catch {
        return false; // gone meanwhile
      }
    });
    const settle = async (until: () => boolean): Promise<void> => {
      for (let i = 0; i < 200 && !until(); i++) await new Promise((r) => setTimeout(r, 10));
    };

    it('flushes the scratch directory while objects are staged, and the helper ends with the writer', async () => {
      const r = repo('bare-user-only');
      const w = new PullWriter(r, 60_000);
      const objects = [0, 1, 2, 3, 4, 5].map(blob);
      for (const [c, b] of objects) await w.writeMetadata(ObjectType.DIR_META, c, b);
      await settle(() => w.earlyFlushes >= 1);
      assert.ok(w.earlyFlushes >= 1, 'at least one flush for 9 MiB staged');
      assert.equal(helperRunning(w.scratch), true, 'one helper for the whole pull');
      await w.finish();
      assert.equal(w.helperFlushes - w.earlyFlushes, 2, 'the last checkpoint flushes through the helper too (before and after its renames)');
      for (const [c] of objects) assert.equal(r.hasObject(c, ObjectType.DIR_META), true);
      await settle(() => !helperRunning(w.scratch));
      assert.equal(helperRunning(w.scratch), false, 'the helper ends after finish()');

      const w2 = new PullWriter(r, 60_000);
      for (const [c, b] of [6, 7, 8, 9].map(blob)) await w2.writeMetadata(ObjectType.DIR_META, c, b);
      await settle(() => w2.earlyFlushes >= 1);
      await w2.abort();
      await settle(() => !helperRunning(w2.scratch));
      assert.equal(helperRunning(w2.scratch), false, 'and after abort()');
    });

    it('finish() while a store worker still writes first moves what is written, then the rest', async () => {
      const r = repo('bare-user-only');
      const w = new PullWriter(r, 60_000, Date.now, 1);
      const h: FileHeader = { uid: 0, gid: 0, mode: 0o100644, symlinkTarget: '', xattrs: [] };
      const a = filez(Buffer.from('written before finish()'), h);
      const b = filez(Buffer.from('still with the worker'), h);
      const staged = (w as unknown as { staged: Map<string, { done: boolean }> }).staged;
      await w.handOver(a.checksum, parseArchiveHeader(a.filez).header, a.filez, a.dataOffset);
      await settle(() => [...staged.values()].every((s) => s.done));
      // No turn of the event loop between queuing b and finish(): b cannot be written yet.
      await w.handOver(b.checksum, parseArchiveHeader(b.filez).header, b.filez, b.dataOffset);
      await w.finish();
      assert.equal(w.helperFlushes - w.earlyFlushes, 3, 'a checkpoint of a alone, then the last one (before and after its renames)');
      assert.equal(readFileSync(r.objectPath(a.checksum, ObjectType.FILE), 'utf8'), 'written before finish()');
      assert.equal(readFileSync(r.objectPath(b.checksum, ObjectType.FILE), 'utf8'), 'still with the worker');
    });

    it('is off when the repository does not fsync, and a missing sync(1) only costs the early flushes', async () => {
      const r = repo('bare-user-only');
      r.config.set('core', 'fsync', 'false');
      r.saveConfig();
      const w = new PullWriter(r, 60_000);
      for (const [c, b] of [0, 1, 2, 3].map(blob)) await w.writeMetadata(ObjectType.DIR_META, c, b);
      await w.finish();
      assert.equal(w.earlyFlushes, 0);

      // A PATH without sync (the helper's shell is /bin/sh): the helper exits at once, the checkpoint falls back to fsync.
      const bin = join(dir, 'bin');
      mkdirSync(bin);
      const path = process.env.PATH;
      process.env.PATH = bin;
      try {
        const r2 = repo('bare-user-only');
        const w2 = new PullWriter(r2, 60_000);
        const objects = [4, 5, 6, 7].map(blob);
        for (const [c, b] of objects) await w2.writeMetadata(ObjectType.DIR_META, c, b);
        await w2.finish();
        assert.equal(w2.earlyFlushes, 0);
        assert.equal(w2.helperFlushes, 0);
        for (const [c] of objects) assert.equal(r2.hasObject(c, ObjectType.DIR_META), true);
      } finally {
        process.env.PATH = path;
      }
    });
  });

  it('with a store worker: a bad object fails finish() with its code; good ones reach objects/', async () => {
    const r = repo('bare-user-only');
    const w = new PullWriter(r, 60_000, Date.now, 1);
    assert.equal(w.offloads, true);
    const h: FileHeader = { uid: 0, gid: 0, mode: 0o100644, symlinkTarget: '', xattrs: [] };
    const ok = filez(Buffer.from('fine'), h);
    const bad = filez(Buffer.from('broken'), h);
    const okHeader = parseArchiveHeader(ok.filez).header;
    await w.handOver(ok.checksum, okHeader, ok.filez, ok.dataOffset);
    const badChecksum = ok.checksum.replace(/^./, (c) => (c === 'a' ? 'b' : 'a'));
    await w.handOver(badChecksum, parseArchiveHeader(bad.filez).header, bad.filez, bad.dataOffset);
    await assert.rejects(w.finish(), (e) => isCanopyError(e, 'ERR_CHECKSUM_MISMATCH') && e.message.includes(badChecksum));
    assert.ok(w.failed !== undefined);
    await w.abort();
    assert.equal(r.hasObject(badChecksum, ObjectType.FILE), false);

    const w2 = new PullWriter(r, 60_000, Date.now, 1);
    await w2.handOver(ok.checksum, okHeader, ok.filez, ok.dataOffset);
    await w2.finish();
    assert.equal(readFileSync(r.objectPath(ok.checksum, ObjectType.FILE), 'utf8'), 'fine');
  });

  it('with a store worker: symlinks and metadata are stored by the worker; a symlink object with content is refused', async () => {
    const r = repo('bare-user-only');
    const w = new PullWriter(r, 60_000, Date.now, 1);
    const l: FileHeader = { uid: 0, gid: 0, mode: 0o120777, symlinkTarget: 'usr/lib/os-release', xattrs: [] };
    const link = filez(Buffer.alloc(0), l);
    // A symlink's .filez ends after its header: no DEFLATE stream.
    const linkFilez = link.filez.subarray(0, link.dataOffset);
    await w.handOver(link.checksum, parseArchiveHeader(linkFilez).header, linkFilez, link.dataOffset);
    const meta = serializeDirMeta({ uid: 0, gid: 0, mode: 0o40755, xattrs: [] });
    await w.writeMetadata(ObjectType.DIR_META, sha256Hex(meta), meta);
    await w.finish();
    const lp = r.objectPath(link.checksum, ObjectType.FILE);
    assert.equal(lstatSync(lp).isSymbolicLink(), true);
    assert.equal(r.readFileObject(link.checksum).header.symlinkTarget, 'usr/lib/os-release');
    assert.equal(lstatSync(r.objectPath(sha256Hex(meta), ObjectType.DIR_META)).mtimeMs, 0);
    assert.ok(readFileSync(r.objectPath(sha256Hex(meta), ObjectType.DIR_META)).equals(meta));

    const w2 = new PullWriter(r, 60_000, Date.now, 1);
    const other: FileHeader = { ...l, symlinkTarget: 'elsewhere' };
    const padded = Buffer.concat([archiveHeaderBytes(other, 0), Buffer.from([3, 0])]);
    const otherSum = fileChecksum(other);
    await w2.handOver(otherSum, parseArchiveHeader(padded).header, padded, parseArchiveHeader(padded).dataOffset);
    await assert.rejects(w2.finish(), (e) => isCanopyError(e, 'ERR_OBJECT_INVALID') && /carries content/.test((e as Error).message));
    await w2.abort();
    assert.equal(r.hasObject(otherSum, ObjectType.FILE), false);
  });

  it('lists objects/ on the thread pool, stats until then, and lists again after a rescan', async () => {
    const r = repo('bare-user-only');
    const h: FileHeader = { uid: 0, gid: 0, mode: 0o100644, symlinkTarget: '', xattrs: [] };
    const first = new PullWriter(r, 60_000);
    const a = Buffer.from('a');
    await first.writeContent(fileChecksum(h, a), h, a);
    await first.finish();

    const w = new PullWriter(r, 60_000);
    // Before the listing is ready the answer comes from a stat, and is the same.
    assert.equal(w.has(ObjectType.FILE, fileChecksum(h, a)), true);
    await w.ready();
    assert.equal(w.has(ObjectType.FILE, fileChecksum(h, a)), true);
    assert.equal(w.has(ObjectType.FILE, fileChecksum(h, Buffer.from('b'))), false);

    // Something else adds an object: after a rescan the writer sees it.
    const b = Buffer.from('b');
    const other = new PullWriter(r, 60_000);
    await other.writeContent(fileChecksum(h, b), h, b);
    await other.finish();
    assert.equal(w.has(ObjectType.FILE, fileChecksum(h, b)), false, 'the listing is kept until told otherwise');
    w.rescan();
    assert.equal(w.has(ObjectType.FILE, fileChecksum(h, b)), true);
    await w.ready();
    assert.equal(w.has(ObjectType.FILE, fileChecksum(h, b)), true);
    await w.abort();
  });
});
