import { strict as assert } from 'node:assert';
import { sha256Hex } from '../../../agent/src/core/bytes';
import { isCanopyError } from '../../../agent/src/core/errors';
import { parse, serialize, Variant, type VarDict } from '../../../agent/src/gvariant/index';
import { ObjectType, serializeCommit } from '../../../agent/src/objects/index';
import { parseSuperblock, serializeSuperblock, SUPERBLOCK_TYPE, type DeltaSuperblock } from '../../../agent/src/delta/superblock';

const commit = serializeCommit({
  metadata: [['version', new Variant('s', '1.0')]],
  related: [],
  subject: 's',
  body: '',
  timestamp: 1_700_000_000,
  rootTree: '44'.repeat(32),
  rootMeta: '55'.repeat(32),
});

function sample(endianness: 'l' | 'B' = 'l'): Omit<DeltaSuperblock, 'endiannessGuessed'> {
  return {
    metadata: [['canopy.note', new Variant('s', 'x')]],
    timestamp: 1_700_000_123,
    from: '66'.repeat(32),
    to: sha256Hex(commit),
    commit,
    parts: [{ version: 0, checksum: '77'.repeat(32), size: 1000, usize: 300_000, objects: [{ type: ObjectType.FILE, checksum: '88'.repeat(32) }, { type: ObjectType.DIR_TREE, checksum: '99'.repeat(32) }] }],
    fallbacks: [{ type: ObjectType.FILE, checksum: 'aa'.repeat(32), size: 5_001_564, usize: 5_000_000 }],
    endianness,
  };
}

/** Edits the raw GVariant value of a serialized superblock. */
function edit(sb: Uint8Array, fn: (raw: unknown[]) => void): Buffer {
  const raw = structuredClone(parse(SUPERBLOCK_TYPE, sb)) as unknown[];
  // structuredClone drops the Variant class; rebuild the metadata dict.
  raw[0] = (parse(SUPERBLOCK_TYPE, sb) as unknown[])[0];
  (raw as unknown[])[4] = (parse(SUPERBLOCK_TYPE, sb) as unknown[])[4];
  fn(raw);
  return serialize(SUPERBLOCK_TYPE, raw as never);
}

const rejects = (data: Uint8Array, code: string, pattern: RegExp): void =>
  assert.throws(() => parseSuperblock(data), (e: unknown) => isCanopyError(e) && e.code === code && pattern.test(e.message));

describe('delta/superblock', function () {
  for (const e of ['l', 'B'] as const) {
    it(`round-trips with '${e}' byte order and marks it in the metadata`, function () {
      const bytes = serializeSuperblock(sample(e));
      const sb = parseSuperblock(bytes);
      assert.equal(sb.endianness, e);
      assert.equal(sb.endiannessGuessed, false);
      assert.deepEqual(sb.parts, sample(e).parts);
      assert.deepEqual(sb.fallbacks, sample(e).fallbacks);
      assert.equal(sb.timestamp, 1_700_000_123);
      assert.deepEqual((sb.metadata as VarDict).map(([k]) => k), ['canopy.note', 'ostree.endianness']);
      assert.deepEqual(serializeSuperblock(sb), bytes);
    });
  }

  it('stores the timestamp big-endian and the sizes in the named order', function () {
    const le = parse(SUPERBLOCK_TYPE, serializeSuperblock(sample('l'))) as unknown[];
    const be = parse(SUPERBLOCK_TYPE, serializeSuperblock(sample('B'))) as unknown[];
    assert.equal(le[1], 0x7b_f1_53_65_00_00_00_00n); // 1700000123 = 0x6553f17b, byte-swapped
    assert.equal((le[6] as unknown[][])[0][2], 1000n);
    assert.equal((be[6] as unknown[][])[0][2], 0xe803_0000_0000_0000n);
  });

  it('reads a scratch delta (empty from)', function () {
    const sb = parseSuperblock(serializeSuperblock({ ...sample(), from: null }));
    assert.equal(sb.from, null);
  });

  it('rejects an embedded commit that does not hash to the target', function () {
    rejects(serializeSuperblock({ ...sample(), to: '12'.repeat(32) }), 'ERR_CHECKSUM_MISMATCH', /does not hash/);
  });

  it('rejects part versions other than 0', function () {
    rejects(serializeSuperblock({ ...sample(), parts: [{ ...sample().parts[0], version: 1 }] }), 'ERR_DELTA_UNSUPPORTED', /version 1/);
  });

  it('rejects ragged object lists, bad object types and bad endianness marks', function () {
    const good = serializeSuperblock(sample());
    rejects(edit(good, (r) => { (r[6] as unknown[][])[0][4] = new Uint8Array(34); }), 'ERR_DELTA_INVALID', /not a multiple of 33/);
    rejects(edit(good, (r) => { const l = new Uint8Array(33); l[0] = 6; (r[6] as unknown[][])[0][4] = l; }), 'ERR_DELTA_INVALID', /object type 6/);
    rejects(edit(good, (r) => { (r[7] as unknown[][])[0][0] = 9; }), 'ERR_DELTA_INVALID', /fallback 0 has object type 9/);
    rejects(edit(good, (r) => { r[0] = [['ostree.endianness', new Variant('y', 0x78)]]; }), 'ERR_DELTA_INVALID', /expected 'l' or 'B'/);
    rejects(edit(good, (r) => { r[0] = [['ostree.endianness', new Variant('s', 'l')]]; }), 'ERR_DELTA_INVALID', /type s/);
    rejects(edit(good, (r) => { r[3] = new Uint8Array(31); }), 'ERR_OBJECT_INVALID', /31 bytes/);
  });

  it('rejects sizes beyond 2^53 and truncated input', function () {
    rejects(edit(serializeSuperblock(sample()), (r) => { (r[6] as unknown[][])[0][3] = 0xffff_ffff_ffff_ffffn; }), 'ERR_DELTA_INVALID', /out of range/);
    const good = serializeSuperblock(sample());
    assert.throws(() => parseSuperblock(good.subarray(0, good.length - 3)), (e: unknown) => isCanopyError(e) && e.code.startsWith('ERR_GVARIANT'));
  });

  it('refuses to write metadata whose endianness mark disagrees', function () {
    assert.throws(() => serializeSuperblock({ ...sample('l'), metadata: [['ostree.endianness', new Variant('y', 0x42)]] }), (e: unknown) => isCanopyError(e, 'ERR_INVALID_ARGUMENT'));
  });
});
