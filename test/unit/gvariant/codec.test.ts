import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { parse, serialize, variant, Variant, type GValue } from '../../../agent/src/gvariant/index';
import { isCanopyError } from '../../../agent/src/core/errors';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('gvariant codec', () => {
  it('serializes the documented dirmeta vector (12 bytes)', () => {
    // (uuua(ayay)) with BE mode 040755: OSTree's empty root dirmeta.
    const b = serialize('(uuua(ayay))', [0, 0, 0xed410000, []]);
    assert.equal(hex(b), '0000000000000000000041ed');
    assert.equal(b.length, 12);
  });

  it('serializes the documented commit vector byte for byte', () => {
    const csum = (h: string): Buffer => Buffer.from(h.padEnd(64, '0'), 'hex');
    const bytes = serialize('(a{sv}aya(say)sstayay)', [
      [['version', variant('s', '1.0')], ['ostree.ref-binding', variant('as', ['test/main'])]],
      new Uint8Array(0), [], 'first', 'body text', 0x00cdb06300000000n, csum('65161b33'), csum('446a0ef1'),
    ]);
    assert.equal(bytes.length, 158);
    assert.equal(hex(bytes.subarray(0, 16)), '76657273696f6e00312e300000730800');
    // framing offsets at the end, reversed member order: 78 49 3f 39 39 39
    assert.equal(hex(bytes.subarray(152)), '78493f393939');
    const back = parse('(a{sv}aya(say)sstayay)', bytes) as GValue[];
    assert.equal(back[3], 'first');
    assert.equal(back[5], 0x00cdb06300000000n);
    assert.equal(hex(back[6] as Uint8Array), csum('65161b33').toString('hex'));
    assert.deepEqual(back[0], [['version', new Variant('s', '1.0')], ['ostree.ref-binding', new Variant('as', ['test/main'])]]);
  });

  it('chooses 2-byte offsets once a container passes 255 bytes', () => {
    const big = serialize('as', ['x'.repeat(200), 'y'.repeat(100)]);
    assert.equal(big.length, 201 + 101 + 4);
    assert.equal(big.readUInt16LE(big.length - 4), 201);
    assert.deepEqual(parse('as', big), ['x'.repeat(200), 'y'.repeat(100)]);
  });

  const refuses = (type: string, bytes: number[] | Buffer, code = 'ERR_GVARIANT_NOT_NORMAL'): void => {
    assert.throws(() => parse(type, Buffer.from(bytes)), (e: unknown) => isCanopyError(e) && e.code === code);
  };

  it('decodes strings: ASCII, UTF-8, empty', () => {
    assert.equal(parse('s', Buffer.from('usr\0')), 'usr');
    assert.equal(parse('s', Buffer.from('caf\u00e9 \u{1F332}\0')), 'caf\u00e9 \u{1F332}');
    assert.equal(parse('s', Buffer.from([0])), '');
    assert.deepEqual(parse('as', serialize('as', ['a', '\u00fc', ''])), ['a', '\u00fc', '']);
  });

  it('refuses non-normal input', () => {
    refuses('b', [2]); // boolean not 0/1
    refuses('s', [0x61]); // no NUL
    refuses('s', [0x61, 0, 0x62, 0]); // inner NUL
    refuses('s', [0xff, 0]); // not UTF-8
    refuses('s', [0x61, 0xc3, 0]); // a cut UTF-8 sequence after ASCII
    refuses('s', []); // not even the NUL of the empty string
    refuses('u', [1, 2, 3]); // wrong fixed size
    refuses('(yu)', [1, 1, 0, 0, 5, 0, 0, 0]); // non-zero padding
    refuses('au', [1, 0, 0, 0, 2]); // not a multiple of the element size
    refuses('as', [0x61, 0, 9]); // offset out of range
    refuses('as', [0x61, 0, 0x62, 0, 4, 2]); // offsets out of order
    refuses('v', [1, 2, 3]); // no type separator
    refuses('v', [0, 0, 0x7a]); // bad type string
    refuses('(ss)', [0x61, 0, 0x62, 0]); // missing framing offset
    refuses('ms', [0x61, 0]); // maybe without trailing zero
  });

  it('refuses input over the size limit before looking at it', () => {
    assert.throws(() => parse('ay', new Uint8Array(100), { maxSize: 10 }), (e: unknown) => isCanopyError(e, 'ERR_GVARIANT_TOO_LARGE'));
  });

  it('refuses variants nested past the depth limit', () => {
    let v: GValue = 1;
    let type = 'u';
    for (let i = 0; i < 80; i++) { v = variant(type, v); type = 'v'; }
    const bytes = serialize('v', v);
    assert.throws(() => parse('v', bytes), (e: unknown) => isCanopyError(e, 'ERR_GVARIANT_NOT_NORMAL'));
  });

  it('refuses bad type strings', () => {
    for (const t of ['', 'z', 'a', '(s', '{ss', '{asv}', 'mms', 'ss']) {
      assert.throws(() => parse(t, new Uint8Array(0)), (e: unknown) => isCanopyError(e, 'ERR_GVARIANT_TYPE'), t);
    }
  });

  // A generator of (type, value) pairs covering every type OSTree uses.
  const leaf = fc.oneof(
    fc.constant<[string, fc.Arbitrary<GValue>]>(['y', fc.integer({ min: 0, max: 255 })]),
    fc.constant<[string, fc.Arbitrary<GValue>]>(['b', fc.boolean()]),
    fc.constant<[string, fc.Arbitrary<GValue>]>(['q', fc.integer({ min: 0, max: 0xffff })]),
    fc.constant<[string, fc.Arbitrary<GValue>]>(['i', fc.integer({ min: -0x80000000, max: 0x7fffffff })]),
    fc.constant<[string, fc.Arbitrary<GValue>]>(['u', fc.integer({ min: 0, max: 0xffffffff })]),
    fc.constant<[string, fc.Arbitrary<GValue>]>(['t', fc.bigInt({ min: 0n, max: (1n << 64n) - 1n })]),
    fc.constant<[string, fc.Arbitrary<GValue>]>(['x', fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n })]),
    fc.constant<[string, fc.Arbitrary<GValue>]>(['s', fc.string({ unit: 'grapheme', maxLength: 40 }).map((s) => s.replace(/\0/g, ''))]),
    fc.constant<[string, fc.Arbitrary<GValue>]>(['ay', fc.uint8Array({ maxLength: 300 })]),
  );
  type Pair = [string, fc.Arbitrary<GValue>];
  const typed = fc.letrec<{ node: Pair }>((tie) => {
    const sub = (): fc.Arbitrary<Pair> => tie('node');
    return {
      node: fc.oneof({ depthSize: 'small', withCrossShrink: true },
        leaf,
        sub().map(([t, a]): Pair => (t === 'y' ? ['ay', fc.uint8Array({ maxLength: 20 })] : [`a${t}`, fc.array(a, { maxLength: 6 })])),
        fc.array(sub(), { minLength: 1, maxLength: 4 }).map((ms): Pair => [
          `(${ms.map((m) => m[0]).join('')})`, fc.tuple(...ms.map((m) => m[1])) as fc.Arbitrary<GValue>,
        ]),
        sub().map(([t, a]): Pair => ['v', a.map((x) => variant(t, x))]),
        sub().map(([t, a]): Pair => [`a{s${t}}`, fc.array(fc.tuple(fc.string({ maxLength: 8 }).map((s) => s.replace(/\0/g, '')), a), { maxLength: 4 }) as fc.Arbitrary<GValue>]),
      ),
    };
  }).node;
  const pair = typed.chain(([t, a]) => a.map((v) => [t, v] as const));

  it('property: parse(serialize(v)) = v, and serialize is stable', () => {
    fc.assert(fc.property(pair, ([t, v]) => {
      const bytes = serialize(t, v);
      const back = parse(t, bytes);
      assert.deepEqual(normalize(back), normalize(v));
      assert.equal(hex(serialize(t, back)), hex(bytes));
    }), { numRuns: 400 });
  });

  it('property: no input crashes the parser (only CanopyErrors)', () => {
    const types = ['(a{sv}aya(say)sstayay)', '(a(say)a(sayay))', '(uuua(ayay))', '(tuuuusa(ayay))', '(a(s(taya{sv}))a{sv})', 'v', 'a{sv}', 'aay'];
    fc.assert(fc.property(fc.constantFrom(...types), fc.uint8Array({ maxLength: 200 }), (t, bytes) => {
      try {
        const v = parse(t, bytes);
        // Whatever parses must re-serialize to the same bytes (normal form).
        assert.equal(hex(serialize(t, v)), hex(bytes));
      } catch (e) {
        if (!isCanopyError(e)) throw e;
      }
    }), { numRuns: 3000 });
  });
});

function normalize(v: unknown): unknown {
  if (v instanceof Uint8Array) return Buffer.from(v).toString('hex');
  if (v instanceof Variant) return { t: v.type, v: normalize(v.value) };
  if (Array.isArray(v)) return v.map(normalize);
  return v;
}
