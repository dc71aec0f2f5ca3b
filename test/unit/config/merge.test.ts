import { strict as assert } from 'node:assert';
import { mergeFragments, originOf } from '../../../agent/src/config/merge';

describe('config/merge', () => {
  it('merges objects deeply and replaces arrays and scalars', () => {
    const m = mergeFragments([
      { source: 'a.json', value: { device: { fleet: 'acme', tags: ['x', 'y'] }, poll: { intervalSec: 60 } } },
      { source: 'b.json', value: { device: { tags: ['z'] }, poll: { jitterSec: 5 } } },
    ]);
    assert.deepEqual(m.value, { device: { fleet: 'acme', tags: ['z'] }, poll: { intervalSec: 60, jitterSec: 5 } });
    assert.equal(originOf(m.origins, 'device.tags'), 'b.json');
    assert.equal(originOf(m.origins, 'device.fleet'), 'a.json');
    assert.equal(originOf(m.origins, 'device.tags[0]'), 'b.json');
    assert.equal(originOf(m.origins, 'poll.intervalSec'), 'a.json');
  });

  it('replaces an object by a scalar and forgets where its parts came from', () => {
    const m = mergeFragments([
      { source: 'a.json', value: { x: { y: 1 } } },
      { source: 'b.json', value: { x: 2 } },
    ]);
    assert.deepEqual(m.value, { x: 2 });
    assert.equal(m.origins.has('x.y'), false);
  });

  it('does not modify its inputs or let __proto__ change a prototype', () => {
    const a = { device: { tags: ['x'] } };
    const hostile = JSON.parse('{"__proto__": {"polluted": true}, "device": {"__proto__": {"id": "evil"}}}');
    const m = mergeFragments([{ source: 'a', value: a }, { source: 'h', value: hostile }]);
    assert.deepEqual(a, { device: { tags: ['x'] } });
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.equal(Object.getPrototypeOf(m.value), Object.prototype);
    assert.equal((m.value.device as Record<string, unknown>).id, undefined);
    assert.ok(Object.hasOwn(m.value, '__proto__'), 'kept as data, for the schema to refuse');
  });
});
