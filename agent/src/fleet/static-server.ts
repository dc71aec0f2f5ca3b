/**
 * `canopy serve`: a static file server for an archive repository, for a
 * laptop, a lab or the demo. Production serves the same files with any web
 * server or CDN; nothing here is needed by devices beyond plain GET.
 *
 * - GET and HEAD only; no directory listings (a directory is 404);
 * - paths are percent-decoded once and refused when they hold `..`, `.`,
 *   a backslash or NUL, or resolve (through symlinks) outside the root;
 *   `+` stays a literal `+` (static-delta names contain it);
 * - `ETag` (size, mtime, inode) and `Last-Modified`; `If-None-Match` and
 *   `If-Modified-Since` answer 304;
 * - one `Range: bytes=…` range (`A-B`, `A-`, `-N`) answers 206 with
 *   `Content-Range`, an unsatisfiable one 416; `If-Range` with another
 *   ETag gets the whole file; several ranges get the whole file (allowed);
 * - content types by name (`config` and refs as text, the rest binary),
 *   `nosniff`, and cache hints: mutable files (`summary`, `summary.sig`,
 *   `config`, refs, delta indexes) `no-cache`, content-addressed objects
 *   and deltas `immutable`.
 */
import { createReadStream, realpathSync, statSync, type Stats } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, sep } from 'node:path';
import { CanopyError, ioError } from '../core/errors';

/** One answered request, for logs. */
export interface ServedRequest {
  method: string;
  path: string;
  status: number;
  /** Body bytes the answer announced (0 for HEAD and errors). */
  bytes: number;
}

export interface StaticServerOptions {
  /** The directory to serve. */
  root: string;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0: any free port. */
  port?: number;
  onRequest?: (r: ServedRequest) => void;
}

export interface StaticServer {
  /** `http://HOST:PORT` (IPv6 hosts in brackets). */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /** Stops listening and ends open connections. */
  close(): Promise<void>;
}

const TEXT = 'text/plain; charset=utf-8';
const BINARY = 'application/octet-stream';

/** The Content-Type for a repository path (leading `/`). */
export function contentTypeFor(path: string): string {
  const base = path.slice(path.lastIndexOf('/') + 1);
  if (path === '/config' || path.startsWith('/refs/')) return TEXT;
  const dot = base.lastIndexOf('.');
  const ext = dot > 0 ? base.slice(dot + 1) : '';
  switch (ext) {
    case 'json': return 'application/json';
    case 'txt': case 'md': case 'pub': case 'asc': return TEXT;
    case 'html': return 'text/html; charset=utf-8';
    default: return BINARY;
  }
}

/** The Cache-Control for a repository path: content-addressed files never change, the rest may. */
export function cacheControlFor(path: string): string {
  return path.startsWith('/objects/') || path.startsWith('/deltas/') ? 'public, max-age=31536000, immutable' : 'no-cache';
}

/**
 * The path segments of a request target, or an error status: 400 for a
 * malformed target, 403 for one that tries to leave the root.
 */
export function requestSegments(target: string): string[] | 400 | 403 {
  const q = target.search(/[?#]/);
  const raw = q >= 0 ? target.slice(0, q) : target;
  if (!raw.startsWith('/')) return 400;
  let decoded: string;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    return 400;
  }
  if (decoded.includes('\0') || decoded.includes('\\')) return 400;
  const segs = decoded.split('/').slice(1);
  if (segs.some((s) => s === '..' || s === '.')) return 403;
  return segs.filter((s) => s !== '');
}

/** The ETag of a file: size, mtime and inode, so a replaced file gets a new one. */
export function etagFor(st: Stats): string {
  return `"${st.size.toString(16)}-${Math.floor(st.mtimeMs).toString(16)}-${st.ino.toString(16)}"`;
}

/** A parsed single range, `'whole'` when the header asks for something we answer with the file, or 416. */
export function parseRange(header: string | undefined, size: number): { start: number; end: number } | 'whole' | 416 {
  if (header === undefined) return 'whole';
  const m = /^bytes=\s*(\d*)\s*-\s*(\d*)\s*$/.exec(header.trim());
  if (!m) return 'whole'; // several ranges or another unit: the whole file is a valid answer
  const [, a, b] = m;
  if (a === '' && b === '') return 'whole';
  if (a === '') {
    const n = Number(b);
    if (n === 0) return 416;
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(a);
  const end = b === '' ? size - 1 : Math.min(Number(b), size - 1);
  if (!Number.isSafeInteger(start) || start >= size || (b !== '' && Number(b) < start)) return 416;
  return { start, end };
}

function matchesEtag(header: string, etag: string): boolean {
  return header.split(',').map((s) => s.trim().replace(/^W\//, '')).some((t) => t === '*' || t === etag);
}

function handler(realRoot: string, onRequest: (r: ServedRequest) => void) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    const method = req.method ?? 'GET';
    const target = req.url ?? '/';
    const done = (status: number, bytes = 0): void => onRequest({ method, path: target, status, bytes });
    const fail = (status: number, extra: Record<string, string> = {}): void => {
      res.writeHead(status, { 'Content-Length': '0', 'X-Content-Type-Options': 'nosniff', ...extra });
      res.end();
      done(status);
    };
    if (method !== 'GET' && method !== 'HEAD') return fail(405, { Allow: 'GET, HEAD' });
    const segs = requestSegments(target);
    if (typeof segs === 'number') return fail(segs);
    if (segs.length === 0) return fail(404);
    let file: string;
    let st: Stats;
    try {
      file = realpathSync(join(realRoot, ...segs));
      if (!file.startsWith(realRoot + sep)) return fail(403);
      st = statSync(file);
    } catch {
      return fail(404);
    }
    if (!st.isFile()) return fail(404);
    const path = `/${segs.join('/')}`;
    const etag = etagFor(st);
    const headers: Record<string, string> = {
      'Content-Type': contentTypeFor(path),
      'X-Content-Type-Options': 'nosniff',
      'Cache-Control': cacheControlFor(path),
      ETag: etag,
      'Last-Modified': st.mtime.toUTCString(),
      'Accept-Ranges': 'bytes',
    };
    const inm = req.headers['if-none-match'];
    const ims = req.headers['if-modified-since'];
    if (inm !== undefined ? matchesEtag(inm, etag) : ims !== undefined && Math.floor(st.mtimeMs / 1000) <= Math.floor(Date.parse(ims) / 1000)) {
      res.writeHead(304, headers);
      res.end();
      return done(304);
    }
    const ifRange = req.headers['if-range'];
    let range = parseRange(req.headers.range, st.size);
    if (typeof ifRange === 'string' && range !== 'whole' && ifRange.trim() !== etag) range = 'whole';
    if (range === 416) return fail(416, { 'Content-Range': `bytes */${st.size}` });
    const part = range === 'whole' ? undefined : range;
    const partial = part !== undefined;
    const start = part ? part.start : 0;
    const end = part ? part.end : st.size - 1;
    const length = st.size === 0 ? 0 : end - start + 1;
    headers['Content-Length'] = String(length);
    if (partial) headers['Content-Range'] = `bytes ${start}-${end}/${st.size}`;
    const status = partial ? 206 : 200;
    res.writeHead(status, headers);
    if (method === 'HEAD' || length === 0) {
      res.end();
      return done(status);
    }
    const stream = createReadStream(file, { start, end });
    stream.on('error', () => res.destroy());
    stream.pipe(res);
    res.on('finish', () => done(status, length));
  };
}

/**
 * Serves `root` over HTTP until closed.
 *
 * @throws ERR_IO when `root` is not a readable directory; ERR_NETWORK
 *   when the address cannot be bound.
 */
export async function serveDirectory(opts: StaticServerOptions): Promise<StaticServer> {
  let realRoot: string;
  try {
    realRoot = realpathSync(opts.root);
    if (!statSync(realRoot).isDirectory()) throw new CanopyError('ERR_IO', `${opts.root} is not a directory`, { path: opts.root });
  } catch (e) {
    throw ioError(e, 'serve', opts.root);
  }
  const host = opts.host ?? '127.0.0.1';
  const server: Server = createServer(handler(realRoot, opts.onRequest ?? (() => undefined)));
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => reject(new CanopyError('ERR_NETWORK', `cannot listen on ${host}:${opts.port ?? 0}: ${e.message}`, { host, port: opts.port ?? 0, errno: e.code }, { cause: e })));
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const shown = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shown}:${port}`,
    host,
    port,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
