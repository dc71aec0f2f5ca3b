/**
 * The port the puller talks through: one GET at a time, headers in,
 * status, headers and a streamed body out. Adapters: `undici-client.ts`
 * (HTTP and HTTPS) and `file-client.ts` (`file://`, for USB sticks and
 * offline updates); tests can pass their own.
 *
 * Errors: an adapter throws CanopyError ERR_NETWORK for a connection that
 * fails, resets or times out (details.transient says whether a retry may
 * help), ERR_TLS for a failed TLS verification (never transient), and
 * ERR_ABORTED when the request's signal fires. Reading the body can throw
 * the same codes. A status code is not an error at this layer.
 */
import { CanopyError } from '../core/errors';

export interface HttpRequest {
  /** Absolute URL (`http:`, `https:` or `file:`). */
  readonly url: string;
  /** Request headers, lower- or mixed-case names. */
  readonly headers?: Readonly<Record<string, string>>;
  readonly signal?: AbortSignal;
}

export interface HttpResponse {
  readonly status: number;
  /** Header names in lower case; a repeated header is joined with ", ". */
  readonly headers: Readonly<Record<string, string | undefined>>;
  /** The body. Iterate it once, or call {@link consume} or {@link dump}. */
  readonly body: AsyncIterable<Uint8Array>;
  /**
   * Optional, in place of iterating `body`: hands each chunk to `onChunk`
   * as it arrives and resolves at the end of the body. When `onChunk`
   * throws, the request is aborted and the promise rejects with that
   * error. An adapter offers it when it can do this with less work per
   * response than an async iterator (thousands of small objects per pull).
   */
  consume?(onChunk: (chunk: Uint8Array) => void): Promise<void>;
  /** Discards the body (frees the connection for reuse). */
  dump(): Promise<void>;
}

export interface HttpClient {
  get(req: HttpRequest): Promise<HttpResponse>;
  /** Closes idle connections; pending requests finish first. */
  close(): Promise<void>;
}

/** TLS and connection settings of a remote (from its config). */
export interface TransportOptions {
  /** PEM file(s) of the CAs to trust instead of the system ones (`tls-ca-path`). */
  caPath?: string;
  /** Client certificate and key for mutual TLS (`tls-client-cert-path`, `tls-client-key-path`). */
  clientCertPath?: string;
  clientKeyPath?: string;
  /** Skip certificate verification entirely (`tls-permissive`). Pins are still checked. */
  tlsPermissive?: boolean;
  /** base64 sha256 of SubjectPublicKeyInfo values; the server must present one of them (`tls-pinned-spki`). */
  pinnedSpki?: readonly string[];
  /** Explicit proxy URL (the remote's `proxy`); otherwise HTTP(S)_PROXY / NO_PROXY from the environment. */
  proxy?: string;
  /** The environment to read proxy variables from (default process.env). */
  env?: Readonly<Record<string, string | undefined>>;
  /** Most connections per origin (default 8). */
  connections?: number;
  /** Milliseconds to wait for response headers (default 30 s). */
  headersTimeoutMs?: number;
  /** Milliseconds of silence allowed while reading a body (default 30 s). */
  bodyTimeoutMs?: number;
  /** Milliseconds to establish a connection (default 15 s). */
  connectTimeoutMs?: number;
  userAgent?: string;
}

export const DEFAULT_USER_AGENT = 'canopy (libostree-compatible)';

/** An ERR_ABORTED error for a fired signal. */
export function abortedError(what: string, signal?: AbortSignal): CanopyError {
  const reason = signal?.reason instanceof Error ? `: ${signal.reason.message}` : '';
  return new CanopyError('ERR_ABORTED', `${what}: cancelled${reason}`, { what }, { cause: signal?.reason });
}

/** Throws ERR_ABORTED when the signal has fired. */
export function throwIfAborted(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw abortedError(what, signal);
}

/** Reads a whole body into one buffer, refusing more than `maxBytes`. */
export async function readBody(res: HttpResponse, maxBytes: number, what: string): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  let n = 0;
  for await (const c of res.body) {
    n += c.length;
    if (n > maxBytes) throw new CanopyError('ERR_OBJECT_INVALID', `${what} is larger than ${maxBytes} bytes`, { what, limit: maxBytes });
    chunks.push(c);
  }
  return Buffer.concat(chunks, n);
}
