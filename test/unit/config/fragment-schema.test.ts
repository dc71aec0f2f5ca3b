import { strict as assert } from 'node:assert';
import { relax } from '../../../agent/src/config/fragment-schema';

describe('config/fragment-schema', () => {
  it('drops what only the merged whole needs: required, default, anyOf, if/then', () => {
    const schema = {
      type: 'object', required: ['a'], additionalProperties: false,
      anyOf: [{ required: ['a'] }], if: { properties: { a: { const: 1 } } }, then: { required: ['b'] },
      properties: { a: { type: 'integer', default: 1 }, b: { type: 'array', items: { type: 'object', required: ['x'], properties: { x: { type: 'string' } } } } },
    };
    assert.deepEqual(relax(schema), {
      type: 'object', additionalProperties: false,
      properties: { a: { type: 'integer' }, b: { type: 'array', items: { type: 'object', properties: { x: { type: 'string' } } } } },
    });
  });

  it('keeps fields whose names are keywords, and leaves its input alone', () => {
    const schema = { properties: { default: { type: 'string', default: 'x' }, required: { type: 'boolean' } }, required: ['default'] };
    const before = structuredClone(schema);
    assert.deepEqual(relax(schema), { properties: { default: { type: 'string' }, required: { type: 'boolean' } } });
    assert.deepEqual(schema, before);
  });
});
