/**
 * A bandwidth cap for the pull (`bandwidth.maxBytesPerSec`): wraps an
 * {@link HttpClient} so that the bodies of all its responses together are
 * read no faster than the cap. Reading slower makes TCP slow the sender
 * down, so the link, not only the disk, sees the cap. A token bucket with
 * one second of burst; waiting ends early when the request is aborted.
 */
import type { HttpClient, HttpRequest, HttpResponse } from '../transport/index';

/** A shared token bucket. */
export class TokenBucket {
  readonly #rate: number;
  #tokens: number;
  #last: number;
  readonly #now: () => number;

  constructor(bytesPerSec: number, now: () => number = Date.now) {
    this.#rate = bytesPerSec;
    this.#tokens = bytesPerSec;
    this.#now = now;
    this.#last = now();
  }

  /** Milliseconds to wait before `n` more bytes may pass (and takes them). */
  take(n: number): number {
    const t = this.#now();
    this.#tokens = Math.min(this.#rate, this.#tokens + ((t - this.#last) / 1000) * this.#rate);
    this.#last = t;
    this.#tokens -= n;
    return this.#tokens >= 0 ? 0 : Math.ceil((-this.#tokens / this.#rate) * 1000);
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** `client` with its response bodies read at most `bytesPerSec` (0: unchanged). */
export function throttledClient(client: HttpClient, bytesPerSec: number, now?: () => number): HttpClient {
  if (!(bytesPerSec > 0)) return client;
  const bucket = new TokenBucket(bytesPerSec, now);
  return {
    async get(req: HttpRequest): Promise<HttpResponse> {
      const res = await client.get(req);
      const body = res.body;
      return {
        status: res.status,
        headers: res.headers,
        dump: () => res.dump(),
        body: {
          async *[Symbol.asyncIterator]() {
            for await (const chunk of body) {
              const wait = bucket.take(chunk.length);
              if (wait > 0) await sleep(wait, req.signal);
              yield chunk;
            }
          },
        },
      };
    },
    close: () => client.close(),
  };
}
