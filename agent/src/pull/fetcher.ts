/**
 * Fetching one file from a remote, robustly: retries with exponential
 * backoff and jitter for transient failures (5xx, 408, 429, resets,
 * timeouts; never 404 or 403), resumption of an interrupted body with
 * `Range` (used only when the server answers 206 with the expected
 * `Content-Range`; a 200 restarts the body), a byte and an object budget,
 * cancellation, and counters for the progress report.
 */
import { CanopyError, isCanopyError } from '../core/errors';
import { abortedError, throwIfAborted, type HttpClient, type HttpResponse } from '../transport/index';
import { BodySink, type Body } from './body-sink';
import { backoffMs, isTransientStatus, parseContentRange } from './plan';

export interface FetcherOptions {
  /** Base URL of `summary`, `refs/` and `.commitmeta` (the remote's `url`). */
  url: string;
  /** Base URL of objects (the remote's `contenturl`). */
  contentUrl: string;
  retries: number;
  retryBaseMs: number;
  retryMaxMs: number;
  maxBytes?: number;
  maxObjects?: number;
  inMemoryLimit: number;
  /** Where bodies above `inMemoryLimit` are spooled. */
  spoolDir?: string;
  signal?: AbortSignal;
  random: () => number;
}

export interface FetchSpec {
  /** Which base URL. */
  base: 'url' | 'content';
  /** Path under the base, e.g. `objects/ab/cdef….filez`. */
  path: string;
  /** For messages: `commit 12ab…`. */
  what: string;
  /** Answer undefined for 404 instead of failing. */
  optional?: boolean;
  /** Largest body accepted (ERR_OBJECT_INVALID above it). */
  maxBytes: number;
  /** Extra request headers (cache validators). */
  headers?: Record<string, string>;
  /** Counts against the object budget. */
  object?: boolean;
  /** May be spooled to disk when large (the caller handles `file` bodies). */
  spool?: boolean;
}

export interface Fetched {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | undefined>>;
  /** Absent for 304 Not Modified. */
  readonly body?: Body;
}

/** Joins a base URL and a relative path with exactly one slash. */
export function joinUrl(base: string, path: string): string {
  return base.replace(/\/+$/, '') + '/' + path.replace(/^\/+/, '');
}

function retryable(e: unknown): boolean {
  return isCanopyError(e) && ((e.code === 'ERR_NETWORK' && e.details.transient === true) || (e.code === 'ERR_HTTP_STATUS' && e.details.transient === true));
}

function sleep(ms: number, signal: AbortSignal | undefined, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortedError(what, signal));
    const onAbort = (): void => {
      clearTimeout(t);
      reject(abortedError(what, signal));
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

interface ResumeState {
  /** Size of the whole file, from the first 200 response. */
  total?: number;
  /** ETag or Last-Modified of that response, sent as If-Range. */
  validator?: string;
}

export class Fetcher {
  requests = 0;
  bytes = 0;
  objects = 0;
  retriesUsed = 0;

  constructor(private readonly client: HttpClient, readonly opts: FetcherOptions) {
    this.bases = { url: joinUrl(opts.url, ''), content: joinUrl(opts.contentUrl, '') };
  }

  /** The two base URLs with one trailing slash, joined once rather than per request. */
  private readonly bases: { readonly url: string; readonly content: string };

  urlFor(base: 'url' | 'content', path: string): string {
    return path.charCodeAt(0) === 0x2f ? joinUrl(this.bases[base], path) : this.bases[base] + path;
  }

  /**
   * GETs one file. Returns undefined for an optional file the server does
   * not have. Throws ERR_HTTP_STATUS (details.status), ERR_NETWORK, ERR_TLS,
   * ERR_OBJECT_INVALID (body over `maxBytes`), ERR_BUDGET_EXCEEDED,
   * ERR_ABORTED.
   */
  async fetch(spec: FetchSpec): Promise<Fetched | undefined> {
    const url = this.urlFor(spec.base, spec.path);
    if (spec.object) {
      this.objects++;
      if (this.opts.maxObjects !== undefined && this.objects > this.opts.maxObjects) {
        throw new CanopyError('ERR_BUDGET_EXCEEDED', `the pull needs more than ${this.opts.maxObjects} objects (budget)`, { maxObjects: this.opts.maxObjects });
      }
    }
    const sink = new BodySink(this.opts.inMemoryLimit, spec.spool ? this.opts.spoolDir : undefined);
    const state: ResumeState = {};
    for (let attempt = 0; ; attempt++) {
      try {
        throwIfAborted(this.opts.signal, `GET ${url}`);
        const headers: Record<string, string> = { ...spec.headers };
        if (sink.length > 0) {
          headers.range = `bytes=${sink.length}-`;
          if (state.validator) headers['if-range'] = state.validator;
        }
        const res = await this.client.get({ url, headers, signal: this.opts.signal });
        this.requests++;
        const done = await this.handle(res, spec, url, sink, state);
        if (done === 'missing') return undefined;
        if (done !== 'body') return done;
        return { status: res.status, headers: res.headers, body: sink.finish() };
      } catch (e) {
        if (!retryable(e) || attempt >= this.opts.retries || this.opts.signal?.aborted) {
          sink.discard();
          throw e;
        }
        this.retriesUsed++;
        const retryAfter = isCanopyError(e) ? Number(e.details.retryAfterMs) : NaN;
        const wait = Number.isFinite(retryAfter) && retryAfter >= 0 ? Math.min(retryAfter, this.opts.retryMaxMs) : backoffMs(attempt, this.opts.retryBaseMs, this.opts.retryMaxMs, this.opts.random);
        try {
          await sleep(wait, this.opts.signal, `GET ${url}`);
        } catch (abort) {
          sink.discard();
          throw abort;
        }
      }
    }
  }

  /** Reads one response into the sink. Returns 'body' when the sink holds the whole file. */
  private async handle(res: HttpResponse, spec: FetchSpec, url: string, sink: BodySink, state: ResumeState): Promise<'body' | 'missing' | Fetched> {
    const status = res.status;
    if (status === 404 && spec.optional) {
      await res.dump();
      return 'missing';
    }
    if (status === 304 && spec.headers) {
      await res.dump();
      return { status, headers: res.headers };
    }
    let expected: number | undefined;
    if (status === 206 && sink.length > 0) {
      const cr = parseContentRange(res.headers['content-range']);
      if (!cr || cr.start !== sink.length || cr.total === undefined || (state.total !== undefined && cr.total !== state.total) || cr.end !== cr.total - 1) {
        // Not the continuation we asked for: start again from byte 0.
        await res.dump();
        sink.reset();
        throw new CanopyError('ERR_NETWORK', `GET ${url}: the server answered the resume request with a mismatched Content-Range ${JSON.stringify(res.headers['content-range'] ?? '')}`, { url, transient: true });
      }
      expected = cr.end - cr.start + 1;
    } else if (status === 200) {
      if (sink.length > 0) sink.reset();
      const cl = res.headers['content-length'];
      expected = cl !== undefined && /^\d+$/.test(cl) ? Number(cl) : undefined;
      // Resuming is only safe for a body whose size and identity are known.
      state.total = expected;
      state.validator = res.headers.etag ?? res.headers['last-modified'];
    } else if (status === 416 && sink.length > 0) {
      await res.dump();
      sink.reset();
      throw new CanopyError('ERR_NETWORK', `GET ${url}: the server refused to resume (416); fetching it whole`, { url, transient: true });
    } else {
      await res.dump();
      const retryAfter = res.headers['retry-after'];
      const retryAfterMs = retryAfter !== undefined && /^\d+$/.test(retryAfter) ? Number(retryAfter) * 1000 : undefined;
      throw new CanopyError('ERR_HTTP_STATUS', `GET ${url}: the server answered ${status}${status === 404 ? ' (not found)' : ''} for ${spec.what}`, {
        url, status, transient: isTransientStatus(status), retryAfterMs,
      });
    }
    if (expected !== undefined && sink.length + expected > spec.maxBytes) {
      await res.dump();
      throw new CanopyError('ERR_OBJECT_INVALID', `${spec.what} is ${sink.length + expected} bytes, more than the ${spec.maxBytes} allowed`, { url, size: sink.length + expected, limit: spec.maxBytes });
    }
    sink.expect(expected);
    const start = sink.length;
    const take = (chunk: Uint8Array): void => {
      this.bytes += chunk.length;
      if (this.opts.maxBytes !== undefined && this.bytes > this.opts.maxBytes) {
        throw new CanopyError('ERR_BUDGET_EXCEEDED', `the pull received more than ${this.opts.maxBytes} bytes (budget)`, { maxBytes: this.opts.maxBytes });
      }
      sink.append(chunk);
      if (sink.length > spec.maxBytes) {
        throw new CanopyError('ERR_OBJECT_INVALID', `${spec.what} is more than the ${spec.maxBytes} bytes allowed`, { url, limit: spec.maxBytes });
      }
    };
    if (res.consume) await res.consume(take);
    else for await (const chunk of res.body) take(chunk);
    if (expected !== undefined && sink.length - start !== expected) {
      throw new CanopyError('ERR_NETWORK', `GET ${url}: the body ended after ${sink.length - start} of ${expected} bytes`, { url, transient: true });
    }
    return 'body';
  }
}
