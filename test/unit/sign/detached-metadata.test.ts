import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import {
  addSignature,
  ED25519_SIGNATURES_KEY,
  getSignatures,
  GPG_SIGNATURES_KEY,
  MAX_SIGNATURES_PER_KEY,
  parseDetachedMetadata,
  removeSignatures,
  serializeDetachedMetadata,
  type DetachedMetadata,
} from '../../../agent/src/sign/detached-metadata';
import { ed25519KeyPairFromSeed, signEd25519 } from '../../../agent/src/sign/ed25519';
import { Variant, variant } from '../../../agent/src/gvariant/index';
import { isCanopyError, type ErrorCode } from '../../../agent/src/core/errors';

const throwsCode = (fn: () => unknown, code: ErrorCode): void => {
  assert.throws(fn, (e: unknown) => isCanopyError(e, code) || assert.fail(`expected ${code}, got ${String(e)}`));
};
const bytes = (...xs: number[]): Uint8Array => Uint8Array.from(xs);

describe('sign/detached-metadata', () => {
  it('reads zero bytes as the empty dictionary and writes it back as zero bytes', () => {
    assert.deepEqual(parseDetachedMetadata(new Uint8Array(0)), []);
    assert.equal(serializeDetachedMetadata([]).length, 0);
    assert.deepEqual(getSignatures([], GPG_SIGNATURES_KEY), []);
  });

  it('serializes an ed25519 .commitmeta with the layout of ostree-formats §4.2 (95 bytes)', () => {
    // Seed = bytes 0..31, as in the reference's constructed example.
    const seed = Uint8Array.from({ length: 32 }, (_, i) => i);
    const { secretKey } = ed25519KeyPairFromSeed(seed);
    const sig = signEd25519(secretKey, Buffer.from('a commit'));
    const md = addSignature([], ED25519_SIGNATURES_KEY, sig);
    const b = serializeDetachedMetadata(md);
    assert.equal(b.length, 95);
    assert.equal(b.subarray(0, 20).toString('latin1'), 'ostree.sign.ed25519\0');
    assert.deepEqual([...b.subarray(20, 24)], [0, 0, 0, 0], 'key padded to 8');
    assert.ok(b.subarray(24, 88).equals(sig), '64 signature bytes');
    assert.equal(b[88], 0x40, 'aay framing offset: element ends at 64');
    assert.equal(b.subarray(89, 93).toString('latin1'), '\0aay', 'variant type');
    assert.equal(b[93], 0x14, 'dict entry: key ends at 20');
    assert.equal(b[94], 0x5e, 'array: entry ends at 94');
    assert.deepEqual(getSignatures(parseDetachedMetadata(b), ED25519_SIGNATURES_KEY), [Uint8Array.from(sig)]);
  });

  it('keeps other keys and their order when a signature is added, and appends a new key last', () => {
    const md: DetachedMetadata = [
      ['zzz.first', variant('s', 'kept')],
      [GPG_SIGNATURES_KEY, variant('aay', [bytes(1, 2, 3)])],
      ['aaa.last', variant('u', 7)],
    ];
    const withGpg = addSignature(md, GPG_SIGNATURES_KEY, bytes(4, 5));
    assert.deepEqual(withGpg.map(([k]) => k), ['zzz.first', GPG_SIGNATURES_KEY, 'aaa.last']);
    assert.deepEqual(getSignatures(withGpg, GPG_SIGNATURES_KEY), [bytes(1, 2, 3), bytes(4, 5)]);
    assert.deepEqual(withGpg[0], md[0]);
    assert.deepEqual(withGpg[2], md[2]);
    // the input is not changed
    assert.deepEqual(getSignatures(md, GPG_SIGNATURES_KEY), [bytes(1, 2, 3)]);

    const withEd = addSignature(withGpg, ED25519_SIGNATURES_KEY, new Uint8Array(64).fill(9));
    assert.deepEqual(withEd.map(([k]) => k), ['zzz.first', GPG_SIGNATURES_KEY, 'aaa.last', ED25519_SIGNATURES_KEY]);

    const back = parseDetachedMetadata(serializeDetachedMetadata(withEd));
    assert.deepEqual(back.map(([k]) => k), withEd.map(([k]) => k));
    assert.equal((back[0][1] as Variant).value, 'kept');
    assert.deepEqual(getSignatures(back, ED25519_SIGNATURES_KEY), [new Uint8Array(64).fill(9)]);
  });

  it('does not add a signature that is already there', () => {
    const md = addSignature(addSignature([], GPG_SIGNATURES_KEY, bytes(1, 2)), GPG_SIGNATURES_KEY, bytes(3));
    const again = addSignature(md, GPG_SIGNATURES_KEY, bytes(1, 2));
    assert.deepEqual(getSignatures(again, GPG_SIGNATURES_KEY), [bytes(1, 2), bytes(3)]);
    assert.ok(serializeDetachedMetadata(again).equals(serializeDetachedMetadata(md)));
  });

  it('removes one key and keeps the rest in order', () => {
    const md: DetachedMetadata = [['a', variant('s', 'x')], [GPG_SIGNATURES_KEY, variant('aay', [bytes(1)])], ['b', variant('b', true)]];
    assert.deepEqual(removeSignatures(md, GPG_SIGNATURES_KEY).map(([k]) => k), ['a', 'b']);
  });

  it('names a signature key that has the wrong type instead of reading it as empty', () => {
    const md: DetachedMetadata = [[GPG_SIGNATURES_KEY, variant('ay', bytes(1, 2))]];
    throwsCode(() => getSignatures(md, GPG_SIGNATURES_KEY), 'ERR_OBJECT_INVALID');
    throwsCode(() => addSignature(md, GPG_SIGNATURES_KEY, bytes(1)), 'ERR_OBJECT_INVALID');
  });

  it('bounds the number and size of signatures', () => {
    const many = Array.from({ length: MAX_SIGNATURES_PER_KEY + 1 }, (_, i) => bytes(i & 0xff, i >> 8));
    throwsCode(() => getSignatures([[ED25519_SIGNATURES_KEY, variant('aay', many)]], ED25519_SIGNATURES_KEY), 'ERR_OBJECT_INVALID');
    throwsCode(() => getSignatures([[ED25519_SIGNATURES_KEY, variant('aay', [new Uint8Array(0)])]], ED25519_SIGNATURES_KEY), 'ERR_OBJECT_INVALID');
    throwsCode(() => addSignature([], GPG_SIGNATURES_KEY, new Uint8Array(0)), 'ERR_INVALID_ARGUMENT');
    throwsCode(() => addSignature([], GPG_SIGNATURES_KEY, new Uint8Array(64 * 1024 + 1)), 'ERR_INVALID_ARGUMENT');
    throwsCode(() => parseDetachedMetadata(new Uint8Array(100), { maxSize: 99 }), 'ERR_GVARIANT_TOO_LARGE');
  });

  it('refuses damaged bytes with a GVariant error, never a crash', () => {
    const good = serializeDetachedMetadata(addSignature([], GPG_SIGNATURES_KEY, bytes(1, 2, 3, 4)));
    fc.assert(
      fc.property(fc.nat(good.length - 1), fc.integer({ min: 1, max: 255 }), (at, x) => {
        const bad = Buffer.from(good);
        bad[at] ^= x;
        try {
          parseDetachedMetadata(bad);
        } catch (e) {
          assert.ok(isCanopyError(e) && e.code.startsWith('ERR_GVARIANT_'), String(e));
        }
      }),
      { numRuns: 200 },
    );
    for (let n = 1; n < good.length; n++) {
      try {
        parseDetachedMetadata(good.subarray(0, n));
      } catch (e) {
        assert.ok(isCanopyError(e) && e.code.startsWith('ERR_GVARIANT_'), String(e));
      }
    }
  });

  it('round-trips arbitrary signature lists', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ minLength: 1, maxLength: 300 }), { maxLength: 8 }), fc.string(), (sigs, note) => {
        let md: DetachedMetadata = [['note', new Variant('s', note.replace(/\0/g, ''))]];
        for (const s of sigs) md = addSignature(md, GPG_SIGNATURES_KEY, s);
        const back = parseDetachedMetadata(serializeDetachedMetadata(md));
        const unique = sigs.filter((s, i) => sigs.findIndex((t) => Buffer.compare(s, t) === 0) === i);
        assert.deepEqual(getSignatures(back, GPG_SIGNATURES_KEY), unique.map((s) => Uint8Array.from(s)));
      }),
      { numRuns: 100 },
    );
  });
});
