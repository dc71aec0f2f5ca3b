import { strict as assert } from 'node:assert';
import { varDictToJson, variantToJson } from '../../../agent/src/cli/json-value';
import { variant } from '../../../agent/src/gvariant/index';

describe('GVariant values as JSON', () => {
  it('keeps types, writes bytes as hex and 64-bit integers exactly', () => {
    assert.deepEqual(variantToJson(variant('t', 5n)), { type: 't', value: 5 });
    assert.deepEqual(variantToJson(variant('t', 18446744073709551615n)), { type: 't', value: '18446744073709551615' });
    assert.deepEqual(variantToJson(variant('ay', Buffer.from([0xde, 0xad]))), { type: 'ay', value: 'dead' });
    assert.deepEqual(variantToJson(variant('aay', [Buffer.from([1]), Buffer.from([2])])), { type: 'aay', value: ['01', '02'] });
    assert.deepEqual(variantToJson(variant('(sb)', ['x', true])), { type: '(sb)', value: ['x', true] });
    assert.deepEqual(variantToJson(variant('mi', null)), { type: 'mi', value: null });
    assert.equal(JSON.stringify(variantToJson(variant('a{sv}', [['k', variant('i', 1)]]))), '{"type":"a{sv}","value":{"k":{"type":"i","value":1}}}');
  });

  it('takes the first of duplicate keys and is not fooled by __proto__', () => {
    const out = varDictToJson([['a', variant('i', 1)], ['a', variant('i', 2)], ['__proto__', variant('s', 'x')]]);
    assert.equal(JSON.stringify(out), '{"a":{"type":"i","value":1},"__proto__":{"type":"s","value":"x"}}');
    assert.equal(Object.getPrototypeOf(out), null);
    assert.equal(({} as Record<string, unknown>).type, undefined, 'Object.prototype untouched');
  });
});
