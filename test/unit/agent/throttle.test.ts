/** The bandwidth cap: a token bucket, and response bodies read no faster than the cap. */
import { strict as assert } from 'node:assert';
import { TokenBucket, throttledClient } from '../../../agent/src/agent/throttle';
import type { HttpClient } from '../../../agent/src/transport/index';

describe('agent/throttle', () => {
  it('the bucket allows one second of burst, then makes callers wait in proportion', () => {
    let t = 0;
    const b = new TokenBucket(1000, () => t);
    assert.equal(b.take(1000), 0);
    assert.equal(b.take(500), 500);
    t = 2000;
    assert.equal(b.take(500), 0, 'refilled (capped at one second)');
  });

  it('a capped client delivers every byte, no faster than the cap', async () => {
    const chunks = Array.from({ length: 6 }, () => new Uint8Array(10_000));
    const inner: HttpClient = {
      get: async () => ({ status: 200, headers: {}, dump: async () => undefined, body: (async function* () { yield* chunks; })() }),
      close: async () => undefined,
    };
    assert.equal(throttledClient(inner, 0), inner, 'no cap: the client itself');
    const capped = throttledClient(inner, 20_000);
    const t0 = Date.now();
    let n = 0;
    for await (const c of (await capped.get({ url: 'http://x/' })).body) n += c.length;
    const ms = Date.now() - t0;
    assert.equal(n, 60_000);
    // 20 KB of burst, then 40 KB at 20 KB/s: about two seconds.
    assert.ok(ms >= 1800, `${ms} ms`);
  });
});
