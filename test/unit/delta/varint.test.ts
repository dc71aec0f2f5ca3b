import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { isCanopyError } from '../../../agent/src/core/errors';
import { encodeVarint, readVarint } from '../../../agent/src/delta/varint';

const bad = (bytes: number[], pattern: RegExp): void =>
  assert.throws(() => readVarint(Uint8Array.from(bytes), 0), (e: unknown) => isCanopyError(e, 'ERR_VARINT_INVALID') && pattern.test(e.message));

describe('delta/varint', function () {
  it('round-trips every safe integer it is given, minimally', function () {
    fc.assert(fc.property(fc.maxSafeNat(), (v) => {
      const b = encodeVarint(v);
      assert.deepEqual(readVarint(b, 0), { value: v, next: b.length });
      assert.ok(b.length === 1 || b[b.length - 1] !== 0);
    }));
  });

  it('encodes known values as LEB128', function () {
    assert.deepEqual(Array.from(encodeVarint(0)), [0]);
    assert.deepEqual(Array.from(encodeVarint(127)), [0x7f]);
    assert.deepEqual(Array.from(encodeVarint(128)), [0x80, 0x01]);
    assert.deepEqual(Array.from(encodeVarint(200000)), [0xc0, 0x9a, 0x0c]);
  });

  it('reads within a window and reports where it ended', function () {
    const b = Uint8Array.from([0xff, 0x80, 0x01, 0x05]);
    assert.deepEqual(readVarint(b, 1), { value: 128, next: 3 });
    assert.throws(() => readVarint(b, 1, 2), /truncated/);
  });

  it('accepts non-minimal encodings (as OSTree does) within 10 bytes', function () {
    assert.equal(readVarint(Uint8Array.from([0x80, 0x80, 0x00]), 0).value, 0);
  });

  it('refuses truncated, overlong and too-large varints', function () {
    bad([], /truncated after 0/);
    bad([0x80, 0x80], /truncated after 2/);
    bad(new Array(11).fill(0x80), /longer than 10 bytes/);
    bad([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x10], /exceeds 2\^53/);
    assert.throws(() => encodeVarint(-1), (e: unknown) => isCanopyError(e, 'ERR_INVALID_ARGUMENT'));
  });
});
