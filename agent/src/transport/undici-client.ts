/**
 * The HTTP(S) adapter, on undici: the only file that imports it.
 *
 * One dispatcher per client: keep-alive connections, no pipelining (one
 * request at a time per connection; concurrency comes from several
 * connections, at most {@link TransportOptions.connections} per origin),
 * the remote's TLS settings (see tls-config.ts), and a proxy: the remote's
 * `proxy` when set, else HTTP_PROXY / HTTPS_PROXY / NO_PROXY from the
 * environment (undici's EnvHttpProxyAgent), else direct.
 *
 * undici is loaded on the first request, not with this file: a device agent
 * that is idle, or updates by MQTT alone, never pays the ~15 MiB of heap and
 * code that loading it costs.
 */
import type { TLSSocket } from 'node:tls';
import { setFlagsFromString } from 'node:v8';
import type { buildConnector, Dispatcher } from 'undici';
import { CanopyError } from '../core/errors';
import { abortedError, DEFAULT_USER_AGENT, type HttpClient, type HttpRequest, type HttpResponse, type TransportOptions } from './http-client';
import { checkPinnedPeer, isTlsError, tlsConnectOptions } from './tls-config';

const TRANSIENT_CODES = new Set([
  'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED',
  'UND_ERR_RES_CONTENT_LENGTH_MISMATCH', 'UND_ERR_REQ_RETRY', 'ECONNRESET', 'ECONNREFUSED', 'ECONNABORTED', 'EPIPE',
  'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENETDOWN', 'EAI_AGAIN', 'ENOTFOUND',
]);

type Undici = Pick<typeof import('undici'), 'Agent' | 'ProxyAgent' | 'EnvHttpProxyAgent' | 'buildConnector'>;
let direct: Promise<Undici> | undefined;
let whole: Promise<Undici> | undefined;

/**
 * The parts of undici used here, loaded once on first use. Its index also
 * sets up fetch, WebSocket, the mocks and the cache interceptors, which
 * costs a pull about 50 ms of start-up and the agent bundle their code. A
 * direct connection needs only the Agent and the connector, taken by path
 * (undici has no exports map; a release that moves them fails the build,
 * not a pull). The proxy agents need the request API that the index adds
 * to every dispatcher, so a proxied client loads the index.
 */
function loadUndici(proxied: boolean): Promise<Undici> {
  if (proxied) {
    whole ??= import('undici').then((u) => {
      keepWasmOnBaselineTier();
      return u;
    });
    return whole;
  }
  direct ??= Promise.all([import('undici/lib/dispatcher/agent.js'), import('undici/lib/core/connect.js')]).then(([agent, connect]) => {
    keepWasmOnBaselineTier();
    return {
      Agent: agent.default, buildConnector: connect.default,
      ProxyAgent: undefined as never, EnvHttpProxyAgent: undefined as never,
    };
  });
  return direct;
}

/**
 * undici parses HTTP/1.1 with llhttp compiled to WebAssembly, which V8
 * runs with its baseline compiler (Liftoff) and, once the parser is hot,
 * compiles again with TurboFan on a helper thread. For llhttp's large state
 * machine that recompile cost 100-135 ms of CPU and a compiler zone of
 * about 22 MB, to speed up a parser whose Liftoff code takes about 47 ms
 * of the main thread in a whole update (24 ms with the recompile, in
 * profiles of the benchmark's update). A small update triggered it near
 * its end, and the process then
 * waited for it before exiting (about 60 ms of a 0.24 s pull); in the
 * benchmark's update it took CPU from the pull on a two-core machine. So
 * WebAssembly stays on Liftoff (`--liftoff-only`; the only other
 * WebAssembly in the bundles, openpgp.js's Argon2, is never run by Canopy).
 * V8's flags are process-wide and this one is part of what V8's code caches
 * are checked against, so it is set when undici and the built-ins it needs
 * are loaded, not at start-up: from then on a cache is refused (a built-in
 * loaded later compiles without Node.js's; the launcher's cache is used long
 * before). It must come before llhttp is compiled, which undici does at its
 * first connection.
 */
function keepWasmOnBaselineTier(): void {
  try {
    setFlagsFromString('--liftoff-only');
  } catch {
    // A speed setting only.
  }
}

function hasProxyEnv(env: Readonly<Record<string, string | undefined>>): boolean {
  return Boolean(env.http_proxy || env.HTTP_PROXY || env.https_proxy || env.HTTPS_PROXY);
}

function errorCode(e: unknown): string {
  for (let cur = e as { code?: unknown; cause?: unknown } | undefined, i = 0; cur && i < 5; cur = cur.cause as typeof cur, i++) {
    if (typeof cur.code === 'string' && cur.code !== 'UND_ERR') return cur.code;
  }
  return 'EUNKNOWN';
}

/** Maps a failure of undici (or the socket under it) to a CanopyError. */
export function networkError(e: unknown, url: string, signal?: AbortSignal): CanopyError {
  if (e instanceof CanopyError) return e;
  if (signal?.aborted) return abortedError(`GET ${url}`, signal);
  const msg = (e as Error)?.message ?? String(e);
  const cause = (e as { cause?: Error })?.cause?.message;
  const text = cause && !msg.includes(cause) ? `${msg} (${cause})` : msg;
  if (isTlsError(e)) return new CanopyError('ERR_TLS', `GET ${url}: TLS verification failed: ${text}`, { url, errno: errorCode(e), transient: false }, { cause: e });
  const code = errorCode(e);
  return new CanopyError('ERR_NETWORK', `GET ${url}: ${text}`, { url, errno: code, transient: TRANSIENT_CODES.has(code) }, { cause: e });
}

/**
 * undici's parsed headers (a fresh object per response, names already in
 * lower case) with repeated headers joined, in place.
 */
function normalizeHeaders(h: Record<string, string | string[] | undefined>): Record<string, string | undefined> {
  for (const k in h) {
    const v = h[k];
    if (Array.isArray(v)) h[k] = v.join(', ');
  }
  return h as Record<string, string | undefined>;
}

/** A path made only of these needs no normalising: `new URL` would return it unchanged. */
const PLAIN_PATH = /^\/[A-Za-z0-9._~/-]*$/;
const DOT_SEGMENT = /\/\.\.?(\/|$)/;

/**
 * Splits an absolute URL into origin and path. A pull asks for thousands
 * of URLs under one base, so the origin is parsed once per scheme and
 * authority, and a plain path is taken as written; anything else goes
 * through `new URL`. Throws for what `new URL` refuses.
 */
export class UrlSplitter {
  private readonly origins = new Map<string, string>();

  split(url: string): { origin: string; path: string } {
    const start = url.indexOf('//');
    const cut = start < 0 ? -1 : url.indexOf('/', start + 2);
    if (cut > 0) {
      const path = url.slice(cut);
      const prefix = url.slice(0, cut);
      if (PLAIN_PATH.test(path) && !DOT_SEGMENT.test(path) && !/[?#@\\]/.test(prefix)) {
        let origin = this.origins.get(prefix);
        if (origin === undefined) {
          const parsed = new URL(prefix);
          // Only a bare scheme://authority is cached (no user info, which `origin` would drop).
          if (parsed.username === '' && parsed.password === '' && parsed.pathname === '/') {
            origin = parsed.origin;
            if (this.origins.size < 16) this.origins.set(prefix, origin);
          }
        }
        if (origin !== undefined) return { origin, path };
      }
    }
    const u = new URL(url);
    return { origin: u.origin, path: u.pathname + u.search };
  }
}

/**
 * The exchanges in flight under each abort signal, so that a signal gets
 * one listener however many requests it covers (a pull sends thousands
 * under one). Adding and removing an EventTarget listener per request cost
 * more than the rest of the request's own bookkeeping here. Weak: an entry
 * lives as long as its signal.
 */
const inFlight = new WeakMap<AbortSignal, Set<Exchange>>();

function watch(signal: AbortSignal, x: Exchange): void {
  let set = inFlight.get(signal);
  if (!set) {
    const exchanges = new Set<Exchange>();
    set = exchanges;
    inFlight.set(signal, exchanges);
    signal.addEventListener('abort', () => {
      for (const e of exchanges) e.abort();
      exchanges.clear();
    }, { once: true });
  }
  set.add(x);
}

/** Bytes buffered before the connection is paused until the reader catches up. */
const HIGH_WATER = 1 << 20;

/**
 * One request/response on undici's low-level dispatch API (much less work
 * per request than its stream-based `request()`, which matters for the
 * thousands of small objects of a pull). The response body is an async
 * iterable over the chunks as they arrive, with back-pressure.
 */
class Exchange implements Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | undefined;
  private readonly chunks: Buffer[] = [];
  private buffered = 0;
  private ended = false;
  private failure: CanopyError | undefined;
  private started = false;
  private discard = false;
  private wake: (() => void) | undefined;
  /** Set by {@link consume}: chunks go straight to it, and the end settles the promise. */
  private consumer: { onChunk: (chunk: Uint8Array) => void; resolve: () => void; reject: (e: Error) => void } | undefined;

  constructor(
    private readonly req: HttpRequest,
    private readonly resolve: (r: HttpResponse) => void,
    private readonly reject: (e: Error) => void,
  ) {
    if (req.signal) watch(req.signal, this);
  }

  /** Stops the request: its signal fired. */
  abort(): void {
    this.controller?.abort(abortedError(`GET ${this.req.url}`, this.req.signal));
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.req.signal?.aborted) this.abort();
  }

  onResponseStart(_c: Dispatcher.DispatchController, statusCode: number, headers: Record<string, string | string[] | undefined>): void {
    if (this.started) return;
    this.started = true;
    const exchange = this;
    let body: AsyncGenerator<Uint8Array> | undefined;
    this.resolve({
      status: statusCode,
      headers: normalizeHeaders(headers),
      // Made on first use: a response read with consume() never needs the generator.
      get body() {
        return (body ??= exchange.iterate());
      },
      consume: (onChunk) => this.consume(onChunk),
      dump: () => this.dump(),
    });
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.discard) return;
    const consumer = this.consumer;
    if (consumer) {
      try {
        consumer.onChunk(chunk);
      } catch (e) {
        this.consumer = undefined;
        controller.abort(e as Error);
        consumer.reject(e as Error);
      }
      return;
    }
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    if (this.buffered > HIGH_WATER) controller.pause();
    this.signal();
  }

  onResponseEnd(): void {
    this.ended = true;
    this.done();
  }

  onResponseError(_c: Dispatcher.DispatchController, error: Error): void {
    this.failure = networkError(error, this.req.url, this.req.signal);
    this.done();
    if (!this.started) this.reject(this.failure);
  }

  private done(): void {
    if (this.req.signal) inFlight.get(this.req.signal)?.delete(this);
    const consumer = this.consumer;
    this.consumer = undefined;
    if (consumer) {
      if (this.failure) consumer.reject(this.failure);
      else consumer.resolve();
    }
    this.signal();
  }

  /** See {@link HttpResponse.consume}: what arrived already first, then each chunk from undici's callback. */
  private consume(onChunk: (chunk: Uint8Array) => void): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      try {
        for (const c of this.chunks) onChunk(c);
      } catch (e) {
        this.chunks.length = 0;
        this.controller?.abort(e as Error);
        return reject(e as Error);
      }
      this.chunks.length = 0;
      this.buffered = 0;
      if (this.failure) return reject(this.failure);
      if (this.ended) return resolve();
      this.consumer = { onChunk, resolve, reject };
      if (this.controller?.paused) this.controller.resume();
    });
  }

  private signal(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  private async *iterate(): AsyncGenerator<Uint8Array> {
    try {
      for (;;) {
        if (this.chunks.length) {
          const c = this.chunks.shift()!;
          this.buffered -= c.length;
          if (this.controller?.paused && this.buffered < HIGH_WATER / 2) this.controller.resume();
          yield c;
          continue;
        }
        if (this.failure) throw this.failure;
        if (this.ended) return;
        await new Promise<void>((r) => {
          this.wake = r;
        });
      }
    } finally {
      if (!this.ended && !this.failure) this.controller?.abort(new Error('response body not read to the end'));
    }
  }

  /** Reads and drops a small body so the connection stays usable; a large one closes it. */
  private async dump(): Promise<void> {
    this.discard = true;
    this.chunks.length = 0;
    this.buffered = 0;
    if (this.controller?.paused) this.controller.resume();
    if (this.ended || this.failure) return;
    await new Promise<void>((r) => {
      const timer = setTimeout(() => {
        this.controller?.abort(new Error('discarded response body'));
        r();
      }, 1000);
      this.wake = () => {
        clearTimeout(timer);
        r();
      };
    });
  }
}

/** Whether a dispatcher reports no request queued or running (one without stats counts as busy). */
function isIdle(d: Dispatcher): boolean {
  const stats = (d as { stats?: Record<string, { size?: number }> }).stats;
  return stats !== undefined && Object.values(stats).every((s) => s.size === 0);
}

/** An Error without stack frames. */
function stacklessError(message: string): Error {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return new Error(message);
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/**
 * Creates the HTTP(S) client for one remote. Throws ERR_CONFIG_INVALID when
 * TLS files cannot be read or the proxy URL is malformed.
 */
export function createUndiciClient(opts: TransportOptions = {}): HttpClient {
  const tls = tlsConnectOptions(opts);
  const env = opts.env ?? process.env;
  const base = {
    connections: opts.connections ?? 8,
    pipelining: 1,
    keepAliveTimeout: 30_000,
    headersTimeout: opts.headersTimeoutMs ?? 30_000,
    bodyTimeout: opts.bodyTimeoutMs ?? 30_000,
    connect: { ...tls, timeout: opts.connectTimeoutMs ?? 15_000 },
  };
  const pins = opts.pinnedSpki ?? [];
  const proxied = Boolean(opts.proxy) || hasProxyEnv(env);
  // Node does not enforce checkServerIdentity without CA verification: a pin is then checked after the handshake.
  const pinAfterHandshake = Boolean(opts.tlsPermissive) && pins.length > 0;
  if (pinAfterHandshake && proxied) throw new CanopyError('ERR_CONFIG_INVALID', 'tls-permissive with tls-pinned-spki cannot be enforced through a proxy; set tls-ca-path instead of tls-permissive', {});
  if (opts.proxy !== undefined && !URL.canParse(opts.proxy)) throw new CanopyError('ERR_CONFIG_INVALID', `cannot set up the HTTP client: the proxy ${JSON.stringify(opts.proxy)} is not a URL`, {});

  const makeDispatcher = async (): Promise<Dispatcher> => {
    const { Agent, buildConnector, EnvHttpProxyAgent, ProxyAgent } = await loadUndici(proxied);
    try {
      if (pinAfterHandshake) {
        const connector = buildConnector(base.connect);
        const pinned: buildConnector.connector = (o, callback) => connector(o, (err, socket) => {
          if (err || !socket || o.protocol !== 'https:') return callback(err as Error, socket as null);
          const bad = checkPinnedPeer(socket as TLSSocket, o.hostname, pins);
          if (bad) {
            socket.destroy();
            return callback(bad, null);
          }
          callback(null, socket);
        });
        (base as { connect: unknown }).connect = pinned;
      }
      if (opts.proxy) return new ProxyAgent({ ...base, uri: opts.proxy, requestTls: tls });
      if (hasProxyEnv(env)) {
        return new EnvHttpProxyAgent({
          ...base,
          requestTls: tls,
          httpProxy: env.http_proxy ?? env.HTTP_PROXY,
          httpsProxy: env.https_proxy ?? env.HTTPS_PROXY,
          noProxy: env.no_proxy ?? env.NO_PROXY,
        });
      }
      return new Agent(base);
    } catch (e) {
      throw new CanopyError('ERR_CONFIG_INVALID', `cannot set up the HTTP client: ${(e as Error).message}`, {}, { cause: e });
    }
  };
  let dispatcher: Promise<Dispatcher> | undefined;
  let ready: Dispatcher | undefined;
  const urls = new UrlSplitter();
  const userAgent = opts.userAgent ?? DEFAULT_USER_AGENT;

  return {
    get(req: HttpRequest): Promise<HttpResponse> {
      if (req.signal?.aborted) return Promise.reject(abortedError(`GET ${req.url}`, req.signal));
      let target: { origin: string; path: string };
      try {
        target = urls.split(req.url);
      } catch (e) {
        return Promise.reject(new CanopyError('ERR_INVALID_ARGUMENT', `invalid URL ${JSON.stringify(req.url)}`, { url: req.url }, { cause: e }));
      }
      const send = (d: Dispatcher): Promise<HttpResponse> => new Promise<HttpResponse>((resolve, reject) => {
        const exchange = new Exchange(req, resolve, reject);
        d.dispatch({
          origin: target.origin,
          path: target.path,
          method: 'GET',
          headers: { 'user-agent': userAgent, ...req.headers },
        }, exchange);
      });
      // Once the dispatcher exists, a request goes out without waiting a turn for its promise.
      if (ready) return send(ready);
      dispatcher ??= makeDispatcher().then((d) => (ready = d));
      return dispatcher.then(send);
    },
    async close() {
      if (!dispatcher) return;
      const d = await dispatcher;
      // With nothing in flight, destroying cuts nothing short. Destroying with an error made without
      // a stack spares the sockets' teardown from formatting the stack of the error undici would make:
      // that looks up source lines, which in a single-file bundle means scanning all of it (about
      // 5 ms at the end of every pull).
      if (isIdle(d)) await d.destroy(stacklessError('the HTTP client was closed'));
      else await d.close();
    },
  };
}
