/**
 * Hostile `.filez` objects: each is refused with a clear error before it
 * could be stored; good ones verify, in memory and streamed from a file.
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { isCanopyError } from '../../../agent/src/core/errors';
import { serialize } from '../../../agent/src/gvariant/index';
import { archiveHeaderBytes, bswap32, bswap64, fileChecksum, type FileHeader } from '../../../agent/src/objects/index';
import { checkStorable, verifyArchiveBuffer, verifyArchiveFile, verifyPlainContent } from '../../../agent/src/pull/index';

const reg: FileHeader = { uid: 0, gid: 0, mode: 0o100644, symlinkTarget: '', xattrs: [] };
const link: FileHeader = { uid: 0, gid: 0, mode: 0o120777, symlinkTarget: 'target', xattrs: [] };

function filez(h: FileHeader, content: Buffer, declared = content.length): Buffer {
  return Buffer.concat([archiveHeaderBytes(h, declared), h.symlinkTarget ? Buffer.alloc(0) : deflateRawSync(content)]);
}

/** A header with any rdev (archiveHeaderBytes refuses to write a non-zero one). */
function rawHeader(h: FileHeader, size: number, rdev: number): Buffer {
  const v = serialize('(tuuuusa(ayay))', [bswap64(BigInt(size)), bswap32(h.uid), bswap32(h.gid), bswap32(h.mode), bswap32(rdev), h.symlinkTarget, []]);
  const out = Buffer.alloc(8 + v.length);
  out.writeUInt32BE(v.length, 0);
  v.copy(out, 8);
  return out;
}

const codeOf = async (p: Promise<unknown>): Promise<string> => {
  try {
    await p;
    return 'ok';
  } catch (e) {
    assert.ok(isCanopyError(e), String(e));
    return e.code;
  }
};

describe('pull/content-verify', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'canopy-cv-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const content = Buffer.from('some file content\n'.repeat(100));
  const good = fileChecksum(reg, content);

  it('verifies good regular, empty and symlink objects, in memory and from a file', async () => {
    const r = await verifyArchiveBuffer(good, filez(reg, content), 1 << 20);
    assert.ok(r.content.equals(content));
    const empty = fileChecksum(reg, Buffer.alloc(0));
    assert.equal((await verifyArchiveBuffer(empty, filez(reg, Buffer.alloc(0)), 10)).content.length, 0);
    const l = fileChecksum(link);
    assert.equal((await verifyArchiveBuffer(l, filez(link, Buffer.alloc(0)), 10)).header.symlinkTarget, 'target');
    const f = join(dir, 'good.filez');
    writeFileSync(f, filez(reg, content));
    assert.equal((await verifyArchiveFile(good, f, 1 << 20)).header.size, content.length);
    verifyPlainContent(good, reg, content);
  });

  it('refuses wrong checksums, lying sizes, bombs, garbage, rdev and symlinks with content', async () => {
    const other = fileChecksum(reg, Buffer.from('other'));
    const bomb = Buffer.concat([archiveHeaderBytes(reg, 100), deflateRawSync(Buffer.alloc(1 << 20))]);
    const cases: Array<[string, string, Buffer, string[]]> = [
      ['wrong name', other, filez(reg, content), ['ERR_CHECKSUM_MISMATCH']],
      ['declares more than it has', good, filez(reg, content, content.length + 1), ['ERR_OBJECT_INVALID']],
      ['declares less (a bomb)', good, bomb, ['ERR_OBJECT_INVALID']],
      ['declares more than allowed', good, filez(reg, content, 2 << 20), ['ERR_OBJECT_INVALID']],
      ['garbage deflate', good, Buffer.concat([archiveHeaderBytes(reg, content.length), Buffer.from('not deflate at all')]), ['ERR_OBJECT_INVALID']],
      ['truncated header', good, filez(reg, content).subarray(0, 12), ['ERR_OBJECT_INVALID', 'ERR_GVARIANT_TRUNCATED']],
      ['huge header length', good, Buffer.from([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]), ['ERR_OBJECT_INVALID']],
      ['non-zero rdev', good, Buffer.concat([rawHeader(reg, content.length, 5), deflateRawSync(content)]), ['ERR_OBJECT_INVALID']],
      ['device node', good, Buffer.concat([rawHeader({ ...reg, mode: 0o020644 }, 0, 0), deflateRawSync(Buffer.alloc(0))]), ['ERR_FILE_TYPE']],
      ['symlink with content', fileChecksum(link), Buffer.concat([filez(link, Buffer.alloc(0)), Buffer.from('x')]), ['ERR_OBJECT_INVALID']],
    ];
    for (const [what, csum, bytes, codes] of cases) {
      const c = await codeOf(verifyArchiveBuffer(csum, bytes, 1 << 20));
      assert.ok(codes.includes(c), `${what}: ${c}`);
      const f = join(dir, 'bad.filez');
      writeFileSync(f, bytes);
      const cf = await codeOf(verifyArchiveFile(csum, f, 1 << 20));
      assert.ok(codes.includes(cf), `${what} (streamed): ${cf}`);
    }
    assert.throws(() => verifyPlainContent(good, reg, Buffer.from('x')), (e) => isCanopyError(e, 'ERR_CHECKSUM_MISMATCH'));
  });

  it('refuses what a bare-user-only repository cannot hold, and only there', () => {
    const refuse = (h: FileHeader): boolean => {
      try {
        checkStorable('bare-user-only', good, h);
        return false;
      } catch (e) {
        return isCanopyError(e, 'ERR_REPO_MODE');
      }
    };
    assert.equal(refuse(reg), false);
    assert.equal(refuse({ ...reg, mode: 0o100775 }), false);
    assert.equal(refuse(link), false);
    assert.equal(refuse({ ...reg, uid: 1000 }), true);
    assert.equal(refuse({ ...reg, gid: 42 }), true);
    assert.equal(refuse({ ...reg, mode: 0o104755 }), true, 'setuid');
    assert.equal(refuse({ ...reg, mode: 0o100666 }), true, 'world-writable');
    assert.equal(refuse({ ...reg, xattrs: [{ name: 'user.a', value: Buffer.from('1') }] }), true);
    checkStorable('bare', good, { ...reg, uid: 1000, mode: 0o104755 });
    checkStorable('archive', good, { ...reg, uid: 1000 });
  });
});
