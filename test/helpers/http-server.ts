/**
 * A static file server for a repository directory, for tests and
 * benchmarks: HTTP or HTTPS on 127.0.0.1, port 0 (the OS picks one), with
 * fault injection and a request log.
 *
 * What it serves: GET/HEAD of files under `root` (no directory listings,
 * no `..`), with `ETag` and `Last-Modified`, `If-None-Match` /
 * `If-Modified-Since` (304), and single `Range: bytes=A-B` / `bytes=A-`
 * requests (206 with `Content-Range`, 416 when unsatisfiable). `+` in a
 * path stays a literal `+` (static-delta paths contain it).
 *
 * Faults (see {@link Fault}) are matched per request path, first match
 * wins, optionally only for the first N matching requests: a status code,
 * a connection reset after N body bytes, a stall, a truncated body that
 * ends cleanly without Content-Length, one corrupted byte, replacement
 * bytes (a replaced summary, an old signed commit), ignoring Range or
 * answering it with the wrong part, a delay. `override(path, bytes)` replaces a file's content for every
 * request until removed.
 *
 * Every request is logged with method, path, status, body bytes sent and
 * the Range asked for: tests count requests to prove what was (not)
 * fetched.
 *
 *   const srv = await serveDirectory(repoDir);
 *   srv.addFault({ match: /\.filez$/, times: 1, resetAfter: 100 });
 *   ... pull from srv.url ...
 *   srv.requests((r) => r.path.endsWith('.filez')).length
 *   await srv.close();
 */
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { join, normalize, sep } from 'node:path';

export interface Fault {
  /** Which request paths (with a leading `/`, no query): exact string, RegExp, or predicate. */
  match: string | RegExp | ((path: string) => boolean);
  /** Apply to the first N matching requests only (default: every one). */
  times?: number;
  /** Answer with this status and an empty body. */
  status?: number;
  /** Header `Retry-After` to send with `status`. */
  retryAfter?: string;
  /** Send the headers (full Content-Length) and this many body bytes, then reset the connection. */
  resetAfter?: number;
  /** Send this many body bytes, then send nothing more (the socket stays open). */
  stallAfter?: number;
  /** Send only the first N bytes, without Content-Length, and end the response normally. */
  truncateAt?: number;
  /** Flip all bits of the body byte at this offset (of the whole file). */
  corruptAt?: number;
  /** Serve these bytes instead of the file (also for a path that does not exist). */
  body?: Uint8Array;
  /** Answer a Range request with the whole file (200). */
  ignoreRange?: boolean;
  /** Answer a Range request with 206 but the whole file (`Content-Range: bytes 0-…`): not the part asked for. */
  wrongRange?: boolean;
  /** Milliseconds to wait before answering. */
  delayMs?: number;
}

export interface RequestLogEntry {
  readonly method: string;
  readonly path: string;
  readonly status: number;
  /** Body bytes written to the socket. */
  readonly bytes: number;
  readonly range?: string;
  readonly ifNoneMatch?: string;
  /** True when a fault shaped the answer. */
  readonly faulted: boolean;
}

export interface TlsServerOptions {
  key: string | Buffer;
  cert: string | Buffer;
  /** CA certificates for client certificates. */
  ca?: string | Buffer;
  /** Demand a client certificate signed by `ca`. */
  requireClientCert?: boolean;
}

export interface RepoServer {
  /** Base URL with a trailing slash, e.g. `http://127.0.0.1:41234/`. */
  readonly url: string;
  readonly port: number;
  readonly root: string;
  readonly log: RequestLogEntry[];
  /** Adds a fault; returns a function that removes it. */
  addFault(f: Fault): () => void;
  clearFaults(): void;
  /** Serves `bytes` for `path` (leading `/`) until called again with undefined. */
  override(path: string, bytes: Uint8Array | undefined): void;
  /** Log entries passing `filter` (all without one). */
  requests(filter?: (r: RequestLogEntry) => boolean): RequestLogEntry[];
  /** Total body bytes sent. */
  bytesSent(): number;
  /** TCP connections accepted so far (keep-alive reuse shows as few connections for many requests). */
  connections(): number;
  /** Empties the log. */
  resetLog(): void;
  /** Stops the server and destroys open connections (stalled ones too). */
  close(): Promise<void>;
}

interface ActiveFault extends Fault {
  used: number;
}

function matches(f: Fault, path: string): boolean {
  if (typeof f.match === 'string') return f.match === path;
  if (f.match instanceof RegExp) return f.match.test(path);
  return f.match(path);
}

function etagOf(size: number, mtimeMs: number): string {
  return `"${size.toString(16)}-${Math.floor(mtimeMs).toString(16)}"`;
}

/** Starts serving `root`. */
export async function serveDirectory(root: string, opts: { tls?: TlsServerOptions } = {}): Promise<RepoServer> {
  const faults: ActiveFault[] = [];
  const overrides = new Map<string, Buffer>();
  const log: RequestLogEntry[] = [];
  const sockets = new Set<Socket>();
  let accepted = 0;

  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const path = decodeURIComponent((req.url ?? '/').split('?')[0]);
    const method = req.method ?? 'GET';
    const range = req.headers.range;
    const ifNoneMatch = req.headers['if-none-match'];
    const fault = faults.find((f) => matches(f, path) && (f.times === undefined || f.used < f.times));
    if (fault) fault.used++;
    let sent = 0;
    const record = (status: number): void => {
      log.push({ method, path, status, bytes: sent, range, ifNoneMatch, faulted: fault !== undefined });
    };
    const answer = (): void => {
      if (method !== 'GET' && method !== 'HEAD') {
        res.writeHead(405).end();
        return record(405);
      }
      if (fault?.status !== undefined) {
        res.writeHead(fault.status, fault.retryAfter ? { 'retry-after': fault.retryAfter } : {}).end();
        return record(fault.status);
      }
      let body: Buffer;
      let etag: string;
      let lastModified: string;
      const replaced = fault?.body ?? overrides.get(path);
      if (replaced) {
        body = Buffer.from(replaced);
        etag = `"o-${createHash('sha256').update(body).digest('hex').slice(0, 32)}"`;
        lastModified = new Date().toUTCString();
      } else {
        const file = normalize(join(root, path));
        if (path.split('/').includes('..') || !(file + sep).startsWith(normalize(root + sep))) {
          res.writeHead(403).end();
          return record(403);
        }
        try {
          const st = statSync(file);
          if (!st.isFile()) throw Object.assign(new Error('not a file'), { code: 'ENOENT' });
          body = readFileSync(file);
          etag = etagOf(st.size, st.mtimeMs);
          lastModified = st.mtime.toUTCString();
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code;
          const status = code === 'ENOENT' || code === 'ENOTDIR' ? 404 : 403;
          res.writeHead(status).end();
          return record(status);
        }
      }
      if (fault?.corruptAt !== undefined && fault.corruptAt < body.length) {
        body = Buffer.from(body);
        body[fault.corruptAt] ^= 0xff;
      }
      const headers: Record<string, string | number> = { etag, 'last-modified': lastModified, 'accept-ranges': 'bytes' };
      const ims = req.headers['if-modified-since'];
      if ((ifNoneMatch !== undefined && ifNoneMatch.split(',').map((s) => s.trim()).includes(etag))
        || (ifNoneMatch === undefined && ims !== undefined && Date.parse(lastModified) <= Date.parse(ims))) {
        res.writeHead(304, headers).end();
        return record(304);
      }
      let status = 200;
      let start = 0;
      let end = body.length - 1;
      if (range !== undefined && !fault?.ignoreRange) {
        const m = /^bytes=(\d+)-(\d*)$/.exec(range.trim());
        const s = m ? Number(m[1]) : NaN;
        const e = m && m[2] !== '' ? Math.min(Number(m[2]), body.length - 1) : body.length - 1;
        if (!m || s >= body.length || e < s) {
          res.writeHead(416, { ...headers, 'content-range': `bytes */${body.length}` }).end();
          return record(416);
        }
        status = 206;
        start = fault?.wrongRange ? 0 : s;
        end = fault?.wrongRange ? body.length - 1 : e;
        headers['content-range'] = `bytes ${start}-${end}/${body.length}`;
      }
      const slice = body.subarray(start, end + 1);
      if (method === 'HEAD') {
        res.writeHead(status, { ...headers, 'content-length': slice.length }).end();
        return record(status);
      }
      if (fault?.truncateAt !== undefined) {
        const part = slice.subarray(0, fault.truncateAt);
        res.writeHead(status, headers);
        sent = part.length;
        res.end(part);
        return record(status);
      }
      const cut = fault?.resetAfter ?? fault?.stallAfter;
      if (cut !== undefined) {
        const part = slice.subarray(0, cut);
        res.writeHead(status, { ...headers, 'content-length': slice.length });
        sent = part.length;
        record(status);
        res.write(part, () => {
          if (fault!.resetAfter !== undefined) res.socket?.destroy();
        });
        return;
      }
      res.writeHead(status, { ...headers, 'content-length': slice.length });
      sent = slice.length;
      res.end(slice);
      record(status);
    };
    if (fault?.delayMs) setTimeout(answer, fault.delayMs);
    else answer();
  };

  const server: Server = opts.tls
    ? createHttpsServer({ key: opts.tls.key, cert: opts.tls.cert, ca: opts.tls.ca, requestCert: opts.tls.requireClientCert ?? false, rejectUnauthorized: opts.tls.requireClientCert ?? false }, handler)
    : createHttpServer(handler);
  server.keepAliveTimeout = 30_000;
  server.on('connection', (s: Socket) => {
    accepted++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('secureConnection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  return {
    url: `${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}/`,
    port,
    root,
    log,
    addFault(f) {
      const a: ActiveFault = { ...f, used: 0 };
      faults.push(a);
      return () => {
        const i = faults.indexOf(a);
        if (i >= 0) faults.splice(i, 1);
      };
    },
    clearFaults() {
      faults.length = 0;
    },
    override(path, bytes) {
      if (bytes === undefined) overrides.delete(path);
      else overrides.set(path, Buffer.from(bytes));
    },
    requests(filter) {
      return filter ? log.filter(filter) : [...log];
    },
    bytesSent() {
      return log.reduce((n, r) => n + r.bytes, 0);
    },
    connections() {
      return accepted;
    },
    resetLog() {
      log.length = 0;
    },
    close() {
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
        server.closeAllConnections?.();
      });
    },
  };
}
