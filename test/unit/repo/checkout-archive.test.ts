import { strict as assert } from 'node:assert';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { isCanopyError, type ErrorCode } from '../../../agent/src/core/errors';
import { archiveHeaderBytes, fileChecksum, type FileHeader } from '../../../agent/src/objects/index';
import { inflateArchiveTo, readArchiveObject } from '../../../agent/src/repo/checkout-archive';

const REG: FileHeader = { uid: 0, gid: 0, mode: 0o100644, symlinkTarget: '', xattrs: [{ name: 'user.a', value: Buffer.from('1') }] };

function filez(h: FileHeader, declaredSize: number, body: Buffer): Buffer {
  return Buffer.concat([archiveHeaderBytes(h, declaredSize), body]);
}

const is = (code: ErrorCode) => (e: unknown): boolean => {
  assert.ok(isCanopyError(e, code), `expected ${code}, got ${String(e)}`);
  return true;
};

describe('repo/checkout-archive', () => {
  let dir: string;
  let n = 0;
  const put = (data: Buffer): string => {
    const p = join(dir, `obj-${++n}.filez`);
    writeFileSync(p, data);
    return p;
  };
  /** Streams an object's content into a file and returns it. */
  const stream = async (path: string, checksum: string): Promise<Buffer> => {
    const o = readArchiveObject(path, checksum, 0);
    assert.equal(o.content, undefined, 'a 0-byte in-memory limit streams');
    const out = join(dir, `out-${++n}`);
    const fd = openSync(out, 'w');
    try {
      await inflateArchiveTo(path, checksum, o.header, (o as { dataOffset: number }).dataOffset, fd);
    } finally {
      closeSync(fd);
    }
    return readFileSync(out);
  };

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'canopy-filez-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('inflates and verifies content in memory, or streams it past the limit', async () => {
    const content = Buffer.from('some content\n'.repeat(1000));
    const csum = fileChecksum(REG, content);
    const p = put(filez(REG, content.length, deflateRawSync(content)));
    const o = readArchiveObject(p, csum);
    assert.ok(o.content?.equals(content));
    assert.deepEqual(o.header.xattrs.map((x) => x.name), ['user.a']);
    assert.ok((await stream(p, csum)).equals(content));
  });

  it('verifies symlinks and empty files', () => {
    const link: FileHeader = { uid: 0, gid: 0, mode: 0o120777, symlinkTarget: '../target', xattrs: [] };
    const o = readArchiveObject(put(filez(link, 0, Buffer.alloc(0))), fileChecksum(link));
    assert.equal(o.header.symlinkTarget, '../target');
    const empty = readArchiveObject(put(filez(REG, 0, deflateRawSync(Buffer.alloc(0)))), fileChecksum(REG, Buffer.alloc(0)));
    assert.equal(empty.content?.length, 0);
    assert.throws(() => readArchiveObject(put(filez(link, 0, Buffer.alloc(0))), 'f'.repeat(64)), is('ERR_CHECKSUM_MISMATCH'));
  });

  it('content that does not hash to the object name is ERR_CHECKSUM_MISMATCH, in memory and streamed', async () => {
    const good = Buffer.from('the real content\n');
    const evil = Buffer.from('the evil content\n');
    const csum = fileChecksum(REG, good);
    const p = put(filez(REG, evil.length, deflateRawSync(evil)));
    assert.throws(() => readArchiveObject(p, csum), is('ERR_CHECKSUM_MISMATCH'));
    await assert.rejects(stream(p, csum), is('ERR_CHECKSUM_MISMATCH'));
  });

  it('bad DEFLATE data, or content longer or shorter than declared, is ERR_OBJECT_INVALID', async () => {
    const content = Buffer.from('0123456789'.repeat(100));
    const csum = fileChecksum(REG, content);
    const body = deflateRawSync(content);
    const cases = [
      filez(REG, content.length, body.subarray(0, body.length - 5)), // truncated stream
      filez(REG, content.length - 1, body), // longer than declared
      filez(REG, content.length + 1, body), // shorter than declared
      filez(REG, content.length, Buffer.from('not deflate at all, not at all')),
    ];
    for (const data of cases) {
      const p = put(data);
      assert.throws(() => readArchiveObject(p, csum), is('ERR_OBJECT_INVALID'));
      await assert.rejects(stream(p, csum), is('ERR_OBJECT_INVALID'));
    }
  });

  it('a missing object is ERR_OBJECT_NOT_FOUND; a truncated header is ERR_OBJECT_INVALID', () => {
    assert.throws(() => readArchiveObject(join(dir, 'absent.filez'), 'a'.repeat(64)), is('ERR_OBJECT_NOT_FOUND'));
    const whole = filez(REG, 1, deflateRawSync(Buffer.from('x')));
    assert.throws(() => readArchiveObject(put(whole.subarray(0, 12)), 'a'.repeat(64)), is('ERR_OBJECT_INVALID'));
    assert.throws(() => readArchiveObject(put(whole.subarray(0, 12)), 'a'.repeat(64), 0), is('ERR_OBJECT_INVALID'));
    assert.throws(() => readArchiveObject(put(whole.subarray(0, 5)), 'a'.repeat(64), 0), is('ERR_OBJECT_INVALID'));
  });
});
