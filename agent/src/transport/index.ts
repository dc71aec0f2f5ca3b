/**
 * Transport: the {@link HttpClient} port and its adapters. `createTransport`
 * picks the adapter by URL scheme, so one client serves a remote whose
 * `url` is `file://` and whose `contenturl` is `https://` (or the reverse).
 *
 * Error codes: ERR_NETWORK (details.transient), ERR_TLS, ERR_ABORTED,
 * ERR_CONFIG_INVALID (TLS files, proxy URL), ERR_INVALID_ARGUMENT (a URL
 * scheme other than http, https or file).
 */
import { CanopyError } from '../core/errors';
import { createFileClient } from './file-client';
import type { HttpClient, HttpRequest, HttpResponse, TransportOptions } from './http-client';
import { createUndiciClient } from './undici-client';

export {
  type HttpClient, type HttpRequest, type HttpResponse, type TransportOptions,
  DEFAULT_USER_AGENT, abortedError, throwIfAborted, readBody,
} from './http-client';
export { createFileClient, fileEtag, parseRange } from './file-client';
export { createUndiciClient, networkError } from './undici-client';
export { spkiSha256, tlsConnectOptions, isTlsError } from './tls-config';

/**
 * A client for `http:`, `https:` and `file:` URLs; the HTTP(S) side is set
 * up on first use with `opts`.
 */
export function createTransport(opts: TransportOptions = {}): HttpClient {
  const file = createFileClient();
  let http: HttpClient | undefined;
  return {
    get(req: HttpRequest): Promise<HttpResponse> {
      const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(req.url)?.[1]?.toLowerCase();
      if (scheme === 'file') return file.get(req);
      if (scheme === 'http' || scheme === 'https') {
        http ??= createUndiciClient(opts);
        return http.get(req);
      }
      return Promise.reject(new CanopyError('ERR_INVALID_ARGUMENT', `unsupported URL scheme in ${JSON.stringify(req.url)} (http, https and file are)`, { url: req.url }));
    },
    async close() {
      await http?.close();
    },
  };
}
