/**
 * Object workers: a fetched `.filez` is written only when its content
 * inflates to the declared size and hashes to its name; the file gets the
 * exact mode, owner and mtime 0; a corrupt object, one that does not
 * inflate, and a failed write each come back as their own failure and
 * write nothing; a batch mixing good and bad objects stores the good ones.
 * A job without a path only verifies.
 */
import { strict as assert } from 'node:assert';
import { existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { archiveHeaderBytes, fileChecksum, fileHeaderBytes, parseArchiveHeader, type FileHeader } from '../../../agent/src/objects/index';
import { ObjectPool, type ObjectJob } from '../../../agent/src/repo/object-pool';

const isRoot = process.getuid?.() === 0;

/** A `.filez` of `content` and the job that stores it at `path`. */
function job(path: string, content: Buffer, h: FileHeader = { uid: 0, gid: 0, mode: 0o100640, symlinkTarget: '', xattrs: [] }): ObjectJob & { path: string } {
  const filez = Buffer.concat([archiveHeaderBytes(h, content.length), deflateRawSync(content)]);
  const { header, dataOffset } = parseArchiveHeader(filez);
  return {
    checksum: fileChecksum(h, content), filez, dataOffset, header: fileHeaderBytes(header), size: header.size, path, raw: false,
    mode: h.mode & 0o7777, owner: isRoot ? { uid: 4242, gid: 4343 } : undefined, zeroTime: true,
  };
}

describe('repo/object-pool', () => {
  let dir: string;
  let pool: ObjectPool;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'canopy-object-pool-'));
    pool = new ObjectPool(2);
  });
  afterEach(async () => {
    await pool.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('stores verified objects with exact mode, owner and mtime 0, and refuses bad ones without writing them', async () => {
    const good = job(join(dir, 'good'), Buffer.from('hello world\n'.repeat(100)));
    const empty = job(join(dir, 'empty'), Buffer.alloc(0));
    const corrupt = job(join(dir, 'corrupt'), Buffer.from('some content'));
    const flipped = { ...corrupt, checksum: `${corrupt.checksum.slice(0, 63)}${corrupt.checksum[63] === '0' ? '1' : '0'}` };
    const short = job(join(dir, 'short'), Buffer.from('x'.repeat(5000)));
    const truncated = { ...short, filez: short.filez.subarray(0, short.filez.length - 3) };
    const taken = job(join(dir, 'taken'), Buffer.from('taken'));
    writeFileSync(taken.path, 'already here');
    const out = await Promise.all([good, empty, flipped, truncated, taken].map((j) => pool.run(j)));
    assert.deepEqual(out.slice(0, 2), [undefined, undefined]);
    assert.equal(out[2]?.kind, 'mismatch');
    assert.equal(out[2]?.kind === 'mismatch' && out[2].actual, corrupt.checksum, 'the digest the content really has');
    assert.equal(out[3]?.kind, 'invalid');
    assert.equal(out[4]?.kind === 'io' && out[4].code, 'EEXIST');
    assert.equal(readFileSync(good.path, 'utf8'), 'hello world\n'.repeat(100));
    const st = lstatSync(good.path);
    assert.equal(st.mode & 0o7777, 0o640);
    assert.equal(st.mtimeMs, 0);
    if (isRoot) assert.deepEqual([st.uid, st.gid], [4242, 4343]);
    assert.equal(lstatSync(empty.path).size, 0);
    assert.equal(existsSync(flipped.path), false, 'a mismatching object is not written');
    assert.equal(existsSync(truncated.path), false, 'an object that does not inflate is not written');
    assert.equal(readFileSync(taken.path, 'utf8'), 'already here', 'an existing file is left alone');
    assert.equal(pool.queuedBytes, 0);
  });

  it('warm() starts the threads before the first job, once, and the jobs then run on them', async function () {
    if (process.platform !== 'linux') this.skip();
    const threads = (): number => readdirSync('/proc/self/task').length;
    const before = threads();
    pool.warm();
    assert.equal(threads(), before + 2, 'one thread per worker, started at once');
    pool.warm();
    const j = job(join(dir, 'warm'), Buffer.from('stored by a warmed worker'));
    assert.equal(await pool.run(j), undefined);
    assert.equal(threads(), before + 2, 'the first job started no other thread');
    assert.equal(readFileSync(j.path, 'utf8'), 'stored by a warmed worker');
  });

  it('jobs without a path only verify: the verdict and nothing written', async () => {
    const good = job('', Buffer.from('verify me'));
    const bad = { ...job('', Buffer.from('and me')), checksum: good.checksum };
    const { path: _unused, ...verifyGood } = good;
    const { path: _unused2, ...verifyBad } = bad;
    assert.equal(await pool.run(verifyGood), undefined);
    const f = await pool.run(verifyBad);
    assert.equal(f?.kind, 'mismatch');
    assert.equal(readdirSync(dir).length, 0, 'nothing was written');
  });

  it('raw jobs (archive repositories) write the .filez as fetched, after the same verification', async () => {
    const j = { ...job(join(dir, 'raw'), Buffer.from('archive me')), raw: true, mode: 0o644, owner: undefined, zeroTime: false };
    assert.equal(await pool.run(j), undefined);
    assert.deepEqual(readFileSync(j.path), Buffer.from(j.filez));
  });
});
