import { strict as assert } from 'node:assert';
import { backoffDelay } from '../../../agent/src/channel/backoff';

describe('channel/backoff', () => {
  it('grows exponentially up to the cap', () => {
    const none = () => 0;
    assert.deepEqual([0, 1, 2, 3, 10, 1000].map((a) => backoffDelay(a, { initialMs: 100, maxMs: 1000, factor: 2 }, none)), [100, 200, 400, 800, 1000, 1000]);
  });

  it('spreads each delay over [cap × (1 − jitter), cap]', () => {
    const p = { initialMs: 1000, maxMs: 60_000, factor: 2, jitter: 0.5 };
    for (let a = 0; a < 10; a++) {
      const cap = Math.min(60_000, 1000 * 2 ** a);
      for (const r of [0, 0.25, 0.999]) {
        const d = backoffDelay(a, p, () => r);
        assert.ok(d >= cap * 0.5 && d <= cap, `attempt ${a}, random ${r}: ${d}`);
      }
    }
    assert.equal(backoffDelay(0, { initialMs: 1000, jitter: 0 }, () => 0.9), 1000);
  });
});
