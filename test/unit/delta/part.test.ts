import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { sha256Hex } from '../../../agent/src/core/bytes';
import { isCanopyError } from '../../../agent/src/core/errors';
import { COMPRESSION_NONE, COMPRESSION_XZ, openPartFile, parsePart, serializePart, unwrapPartFile, wrapPartFile, type DeltaPart } from '../../../agent/src/delta/part';
import type { DeltaPartHeader } from '../../../agent/src/delta/superblock';

const part: DeltaPart = {
  modes: [{ uid: 0, gid: 0, mode: 0o100644 }, { uid: 1000, gid: 100, mode: 0o120777 }],
  xattrs: [[], [{ name: 'security.capability', value: Uint8Array.from([1, 2, 3]) }]],
  payload: Buffer.from('payload bytes'),
  ops: Uint8Array.from([0x53, 0, 0, 7, 0]),
};

function header(file: Uint8Array): DeltaPartHeader {
  return { version: 0, checksum: sha256Hex(file), size: file.length, usize: 7, objects: [] };
}

const code = (c: string, pattern?: RegExp) => (e: unknown): boolean => isCanopyError(e) && e.code === c && (!pattern || pattern.test(e.message));

describe('delta/part', function () {
  it('round-trips an uncompressed part file, mode table big-endian on disk', function () {
    const body = serializePart(part);
    // First mode entry: uid 0, gid 0, mode 0100644 as BE bytes 00 00 81 a4.
    assert.deepEqual(Array.from(body.subarray(8, 12)), [0x00, 0x00, 0x81, 0xa4]);
    const file = wrapPartFile(COMPRESSION_NONE, body);
    const back = openPartFile(file, header(file), 0);
    assert.deepEqual(back.modes, part.modes);
    assert.deepEqual(back.xattrs.map((x) => x.map((a) => a.name)), [[], ['security.capability']]);
    assert.deepEqual(Buffer.from(back.payload), Buffer.from(part.payload));
    assert.deepEqual(Buffer.from(back.ops), Buffer.from(part.ops));
  });

  it('unwraps an xz part file', function () {
    if (spawnSync('xz', ['--version']).status !== 0) this.skip();
    const body = serializePart(part);
    const xz = spawnSync('xz', ['-c', '--check=crc64'], { input: body }).stdout;
    assert.deepEqual(Buffer.from(unwrapPartFile(wrapPartFile(COMPRESSION_XZ, xz))), body);
    // The bound applies to xz parts too.
    assert.throws(() => unwrapPartFile(wrapPartFile(COMPRESSION_XZ, xz), body.length - 1), code('ERR_DECOMPRESS_TOO_LARGE'));
  });

  it('rejects a wrong size, a wrong digest, an unknown compression, an empty file and oversize raw parts', function () {
    const file = wrapPartFile(COMPRESSION_NONE, serializePart(part));
    assert.throws(() => openPartFile(file, { ...header(file), size: file.length + 1 }, 3), code('ERR_DELTA_INVALID', /part 3 has/));
    assert.throws(() => openPartFile(file, { ...header(file), checksum: '00'.repeat(32) }, 0), code('ERR_CHECKSUM_MISMATCH'));
    const g = Buffer.from(file);
    g[0] = 0x67;
    assert.throws(() => unwrapPartFile(g), code('ERR_DELTA_UNSUPPORTED', /0x67/));
    assert.throws(() => unwrapPartFile(new Uint8Array(0)), code('ERR_DELTA_INVALID', /empty/));
    assert.throws(() => unwrapPartFile(file, 10), code('ERR_DECOMPRESS_TOO_LARGE'));
  });

  it('rejects malformed part bodies and xattr names without their NUL', function () {
    assert.throws(() => parsePart(Uint8Array.from([1, 2, 3])), (e: unknown) => isCanopyError(e) && e.code.startsWith('ERR_GVARIANT'));
  });
});
