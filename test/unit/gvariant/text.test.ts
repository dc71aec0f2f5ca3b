import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { isCanopyError } from '../../../agent/src/core/errors';
import { parseVariantText, printVariant, printVariantText, serialize, Variant, variant, type GValue } from '../../../agent/src/gvariant/index';

const parsed = (text: string): [string, GValue] => {
  const v = parseVariantText(text);
  return [v.type, v.value];
};

const refuses = (text: string, pattern: RegExp): void => {
  assert.throws(() => parseVariantText(text), (e: unknown) => {
    assert.ok(isCanopyError(e, 'ERR_INVALID_ARGUMENT'), String(e));
    assert.match((e as Error).message, pattern);
    return true;
  });
};

describe('gvariant text format: parse', () => {
  // Each expectation was checked against g_variant_parse through
  // `ostree commit --add-metadata=k=TEXT` + `ostree show -B --print-metadata-key=k`.
  it('types bare integers as int32, in decimal, hex and octal', () => {
    assert.deepEqual(parsed('42'), ['i', 42]);
    assert.deepEqual(parsed(' 42 '), ['i', 42]);
    assert.deepEqual(parsed('-5'), ['i', -5]);
    assert.deepEqual(parsed('+5'), ['i', 5]);
    assert.deepEqual(parsed('0x10'), ['i', 16]);
    assert.deepEqual(parsed('-0x10'), ['i', -16]);
    assert.deepEqual(parsed('010'), ['i', 8]);
    assert.deepEqual(parsed('0'), ['i', 0]);
  });

  it('honours type keywords and @TYPE prefixes', () => {
    assert.deepEqual(parsed('uint32 3000000000'), ['u', 3000000000]);
    assert.deepEqual(parsed('int64 -1'), ['x', -1n]);
    assert.deepEqual(parsed('uint64 18446744073709551615'), ['t', 18446744073709551615n]);
    assert.deepEqual(parsed('byte 255'), ['y', 255]);
    assert.deepEqual(parsed('byte 0x41'), ['y', 0x41]);
    assert.deepEqual(parsed('int16 -3'), ['n', -3]);
    assert.deepEqual(parsed('uint16 7'), ['q', 7]);
    assert.deepEqual(parsed('double 2'), ['d', 2]);
    assert.deepEqual(parsed('boolean false'), ['b', false]);
    assert.deepEqual(parsed('@u 5'), ['u', 5]);
    assert.deepEqual(parsed('@i 2'), ['i', 2]);
    assert.deepEqual(parsed('@as []'), ['as', []]);
    assert.deepEqual(parsed('@aau [[1], []]'), ['aau', [[1], []]]);
  });

  it('refuses integers out of range for their type', () => {
    refuses('3000000000', /out of range for type i/);
    refuses('byte 256', /out of range for type y/);
    refuses('uint32 -1', /out of range for type u/);
    refuses('uint64 18446744073709551616', /out of range for type t/);
  });

  it('parses floats as doubles, and booleans', () => {
    assert.deepEqual(parsed('1.5'), ['d', 1.5]);
    assert.deepEqual(parsed('1e3'), ['d', 1000]);
    assert.deepEqual(parsed('-2.5e-3'), ['d', -0.0025]);
    assert.deepEqual(parsed('true'), ['b', true]);
    assert.deepEqual(parsed('false'), ['b', false]);
  });

  it('parses strings with GLib escapes; unknown escapes stand for the character', () => {
    assert.deepEqual(parsed("'a\\nb'"), ['s', 'a\nb']);
    assert.deepEqual(parsed(`"it's"`), ['s', "it's"]);
    assert.deepEqual(parsed("'it\\'s'"), ['s', "it's"]);
    assert.deepEqual(parsed("'\\u00e9\\x41'"), ['s', 'éx41']);
    assert.deepEqual(parsed("'\\U0001F600'"), ['s', '\u{1F600}']);
    assert.deepEqual(parsed("''"), ['s', '']);
    assert.deepEqual(parsed("b'abc'"), ['ay', Uint8Array.from([0x61, 0x62, 0x63, 0])]);
    assert.deepEqual(parsed("b'\\001'"), ['ay', Uint8Array.from([1, 0])]);
  });

  it('infers array types by unifying the elements', () => {
    assert.deepEqual(parsed('[1, 2]'), ['ai', [1, 2]]);
    assert.deepEqual(parsed('[uint32 1, 2]'), ['au', [1, 2]]);
    assert.deepEqual(parsed('[1, uint32 2]'), ['au', [1, 2]]);
    assert.deepEqual(parsed('[1, 1.5]'), ['ad', [1, 1.5]]);
    assert.deepEqual(parsed("['a', 'b']"), ['as', ['a', 'b']]);
    assert.deepEqual(parsed('[[1], []]'), ['aai', [[1], []]]);
    assert.deepEqual(parsed('[[], [int64 1]]'), ['aax', [[], [1n]]]);
    assert.deepEqual(parsed('@ay [1, 0]'), ['ay', Uint8Array.from([1, 0])]);
  });

  it('refuses what it cannot type or does not support, naming the problem', () => {
    refuses('[]', /cannot infer the type of an empty array/);
    refuses('[ ]', /cannot infer/);
    refuses("[1, 'a']", /array element is a string but earlier elements are a number/);
    refuses("'a' 'b'", /expected the end of the input \(at offset 4\)/);
    refuses('(1, 2)', /tuples are not supported/);
    refuses("{'a': 1}", /dictionaries are not supported/);
    refuses("<'x'>", /variants are not supported/);
    refuses('nothing', /"nothing" values are not supported/);
    refuses("objectpath '/a'", /not supported/);
    refuses('@a{sv} {}', /type a\{sv\} is not supported/);
    refuses('@(ii) (1, 2)', /not supported/);
    refuses('@zz 1', /invalid type/);
    refuses('boolean 1', /cannot have type b/);
    refuses('foo', /unknown keyword "foo"/);
    refuses("'abc", /unterminated string/);
    refuses('[1, 2', /unterminated array/);
    refuses('1x', /invalid number/);
    refuses('', /expected a value/);
    refuses("'\\ud800'", /invalid \\u escape/);
  });

  it('is bounded in length and depth', () => {
    refuses('['.repeat(40) + '1' + ']'.repeat(40), /nested deeper than 32/);
    assert.deepEqual(parseVariantText('['.repeat(10) + '1' + ']'.repeat(10)).type, 'a'.repeat(10) + 'i');
    refuses(`'${'x'.repeat(70000)}'`, /longer than 65536/);
    assert.throws(() => parseVariantText('1', { maxLength: 0 }), /longer than 0/);
  });

  it('never throws anything but a CanopyError on arbitrary input', () => {
    fc.assert(fc.property(fc.string({ maxLength: 40 }), (s) => {
      try {
        const v = parseVariantText(s);
        serialize(v.type, v.value); // whatever parses must serialize
      } catch (e) {
        if (!isCanopyError(e)) throw e;
      }
    }), { numRuns: 2000 });
  });
});

describe('gvariant text format: print', () => {
  // Expected strings are what g_variant_print(v, TRUE) printed for the same
  // values in `ostree show --raw` and `ostree ls -X` output.
  it('annotates only where GLib does', () => {
    assert.equal(printVariant(variant('s', '1.0')), "'1.0'");
    assert.equal(printVariant(variant('i', 42)), '42');
    assert.equal(printVariant(variant('u', 5)), 'uint32 5');
    assert.equal(printVariant(variant('t', 1672531200n)), 'uint64 1672531200');
    assert.equal(printVariant(variant('x', -1n)), 'int64 -1');
    assert.equal(printVariant(variant('y', 0xff)), 'byte 0xff');
    assert.equal(printVariant(variant('as', [])), '@as []');
    assert.equal(printVariant(variant('as', ['a', 'b'])), "['a', 'b']");
    assert.equal(printVariant(variant('au', [1, 2])), '[uint32 1, 2]');
    assert.equal(printVariant(variant('a{sv}', [])), '@a{sv} {}');
    assert.equal(printVariant(variant('a{sv}', [['a', variant('a{sv}', [['x', variant('i', 1)]])]])), "{'a': <{'x': <1>}>}");
    assert.equal(printVariant(variant('(ss)', ['a', 'b'])), "('a', 'b')");
    assert.equal(printVariant(variant('(i)', [1])), '(1,)');
    assert.equal(printVariant(variant('{ss}', ['a', 'b'])), "{'a', 'b'}");
    assert.equal(printVariant(variant('ami', [1, null])), '[@mi 1, nothing]');
    assert.equal(printVariant(variant('mi', null)), '@mi nothing');
  });

  it('prints byte arrays as bytestrings only when NUL-terminated, like ostree ls -X', () => {
    const xattrs = [[Buffer.from('user.foo\0'), Buffer.from('bar')]];
    assert.equal(printVariantText('a(ayay)', xattrs), "[(b'user.foo', [byte 0x62, 0x61, 0x72])]");
    assert.equal(printVariantText('a(ayay)', []), '@a(ayay) []');
    assert.equal(printVariantText('ay', Uint8Array.from([1, 0])), "b'\\001'");
    assert.equal(printVariantText('ay', Buffer.from("it's\0")), 'b"it\'s"');
    assert.equal(printVariantText('ay', Buffer.from('a\n"\\\xff\0', 'latin1')), "b'a\\n\\\"\\\\\\377'");
    assert.equal(printVariantText('ay', new Uint8Array(0)), '@ay []');
  });

  it('quotes and escapes strings as GLib does', () => {
    assert.equal(printVariant(variant('s', "it's")), `"it's"`);
    assert.equal(printVariant(variant('s', 'a\nb\\c')), "'a\\nb\\\\c'");
    assert.equal(printVariant(variant('s', 'é\u0001')), "'é\\u0001'");
    assert.equal(printVariant(variant('s', 'say "hi"')), `'say "hi"'`);
  });

  it('prints doubles with %.17g and a .0 when they look like integers', () => {
    assert.equal(printVariant(variant('d', 1.5)), '1.5');
    assert.equal(printVariant(variant('d', 1000)), '1000.0');
    assert.equal(printVariant(variant('d', 0.1)), '0.10000000000000001');
    assert.equal(printVariant(variant('d', 3.1398365858857059e-319)), '3.1398365858857059e-319');
    assert.equal(printVariant(variant('d', 1e20)), '1e+20');
    assert.equal(printVariant(variant('d', 0)), '0.0');
  });

  it('round-trips what the parser accepts', () => {
    const texts = ['42', 'uint32 7', 'int64 -9', "'x'", '[1, 2]', '@as []', "['a', 'b']", 'true', '1.5', "b'abc'", '[[uint16 1], []]'];
    for (const t of texts) {
      const v = parseVariantText(t);
      const again = parseVariantText(printVariant(v));
      assert.deepEqual(again, v, t);
      assert.ok(again instanceof Variant);
    }
  });
});
