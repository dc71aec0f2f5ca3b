import { strict as assert } from 'node:assert';
import { isCanopyError } from '../../../agent/src/core/errors';
import { ObjectType } from '../../../agent/src/objects/index';
import { decodeAllOps } from '../../../agent/src/delta/ops';
import type { DeltaPart } from '../../../agent/src/delta/part';
import type { DeltaObjectRef } from '../../../agent/src/delta/superblock';
import { encodeVarint } from '../../../agent/src/delta/varint';

const SRC = 'ab'.repeat(32);
const META: DeltaObjectRef = { type: ObjectType.DIR_META, checksum: '11'.repeat(32) };
const FILE: DeltaObjectRef = { type: ObjectType.FILE, checksum: '22'.repeat(32) };

function part(ops: Array<string | number>): DeltaPart {
  const payload = new Uint8Array(64);
  payload.set(Buffer.from(SRC, 'hex'), 0);
  const bytes: number[] = [];
  for (const x of ops) {
    if (typeof x === 'string') bytes.push(x.charCodeAt(0));
    else bytes.push(...encodeVarint(x));
  }
  return {
    modes: [{ uid: 0, gid: 0, mode: 0o100644 }, { uid: 0, gid: 0, mode: 0o120777 }, { uid: 0, gid: 0, mode: 0o040755 }],
    xattrs: [[], [{ name: 'user.a', value: Uint8Array.from([1]) }]],
    payload,
    ops: Uint8Array.from(bytes),
  };
}

function rejects(ops: Array<string | number>, objects: DeltaObjectRef[], pattern: RegExp, code = 'ERR_DELTA_INVALID'): void {
  assert.throws(() => decodeAllOps(part(ops), objects), (e: unknown) => isCanopyError(e) && e.code === code && pattern.test(e.message));
}

describe('delta/ops', function () {
  it('decodes S with 2 operands for metadata and 4 for content targets', function () {
    const ops = decodeAllOps(part(['S', 12, 40, 'S', 1, 1, 9, 3]), [META, FILE]);
    assert.deepEqual(ops, [
      { op: 'splice-meta', object: META, offset: 40, size: 12 },
      { op: 'splice-content', object: FILE, modeIndex: 1, xattrIndex: 1, offset: 3, size: 9 },
    ]);
  });

  it('decodes a bsdiff sequence and a rollsum sequence with sizes adding up', function () {
    const bs = decodeAllOps(part(['r', 0, 'o', 0, 0, 1000, 'B', 32, 20, 'c', 'R']), [FILE]);
    assert.deepEqual(bs.map((o) => o.op), ['set-read-source', 'open', 'bspatch', 'close', 'unset-read-source']);
    assert.deepEqual(bs[2], { op: 'bspatch', source: SRC, offset: 32, length: 20, newSize: 1000 });
    const rs = decodeAllOps(part(['o', 0, 1, 230, 'r', 0, 'w', 200, 5000, 'R', 'w', 30, 32, 'c']), [FILE]);
    assert.deepEqual(rs[2], { op: 'write-source', source: SRC, offset: 5000, size: 200 });
    assert.deepEqual(rs[4], { op: 'write-payload', offset: 32, size: 30 });
  });

  it('close drops the read source, as OSTree\'s executor does (the next write reads the payload)', function () {
    const FILE2: DeltaObjectRef = { type: ObjectType.FILE, checksum: '33'.repeat(32) };
    const ops = decodeAllOps(part(['r', 0, 'o', 0, 0, 4, 'w', 4, 100, 'c', 'o', 0, 0, 4, 'w', 4, 40, 'c']), [FILE, FILE2]);
    assert.deepEqual(ops[2], { op: 'write-source', source: SRC, offset: 100, size: 4 });
    assert.deepEqual(ops[5], { op: 'write-payload', offset: 40, size: 4 });
  });

  describe('rejects', function () {
    it('a mode index outside the table', () => rejects(['S', 3, 0, 1, 0], [FILE], /mode index 3/));
    it('an xattr index outside the table', () => rejects(['S', 0, 2, 1, 0], [FILE], /xattr index 2/));
    it('a directory mode on a file object', () => rejects(['S', 2, 0, 1, 0], [FILE], /not valid here/));
    it('open with a symlink mode', () => rejects(['o', 1, 0, 5], [FILE], /not valid here/));
    it('open of a metadata object', () => rejects(['o', 0, 0, 5], [META], /non-content/));
    it('a splice outside the payload', () => rejects(['S', 60, 10], [META], /outside the payload/));
    it('a payload write outside the payload', () => rejects(['o', 0, 0, 10, 'w', 10, 60, 'c'], [FILE], /outside the payload/));
    it('a read source outside the payload', () => rejects(['r', 40], [], /outside the payload/));
    it('a bspatch range outside the payload', () => rejects(['r', 0, 'o', 0, 0, 5, 'B', 0, 65, 'c'], [FILE], /outside the payload/));
    it('an unknown opcode', () => rejects(['Z'], [], /unknown opcode 0x5a/));
    it('more objects than listed', () => rejects(['S', 1, 0, 'S', 1, 0], [META], /more than the 1 listed/));
    it('fewer objects than listed', () => rejects(['S', 1, 0], [META, META], /produced 1 of 2/));
    it('write, close and bspatch with no object open', function () {
      rejects(['w', 1, 0], [], /write without an open object/);
      rejects(['c'], [], /close without an open object/);
      rejects(['r', 0, 'B', 0, 1], [], /bspatch without an open object/);
    });
    it('writes past the declared size, and a short close', function () {
      rejects(['o', 0, 0, 4, 'w', 5, 0, 'c'], [FILE], /passes the object size/);
      rejects(['o', 0, 0, 4, 'w', 3, 0, 'c'], [FILE], /close after 3 of 4/);
    });
    it('bspatch without a read source or after a write', function () {
      rejects(['o', 0, 0, 4, 'B', 0, 1, 'c'], [FILE], /without a read source/);
      rejects(['r', 0, 'o', 0, 0, 4, 'w', 1, 0, 'B', 0, 1, 'c'], [FILE], /partly written/);
    });
    it('a splice or open while an object is open', function () {
      rejects(['o', 0, 0, 4, 'S', 1, 0], [FILE, META], /splice while/);
      rejects(['o', 0, 0, 4, 'o', 0, 0, 4], [FILE, FILE], /open while/);
    });
    it('a stream that ends with an object open', () => rejects(['o', 0, 0, 0], [FILE], /still open/));
    it('a truncated operand', () => rejects(['S', 0x80], [META], /truncated/, 'ERR_VARINT_INVALID'));
  });
});
