/**
 * `file://` remotes (a repository on a USB stick, an NFS mount, a local
 * mirror): the same interface as HTTP, so the puller has one code path.
 * A missing file answers 404, an unreadable one 403; `Range` and
 * `If-None-Match` / `If-Modified-Since` behave as on a static web server
 * (the ETag is made from inode, size and mtime). Small files are read with
 * one synchronous read, which is much faster in Node than a stream for the
 * thousands of small objects a pull reads; large ones are streamed.
 */
import { createReadStream, openSync, closeSync, fstatSync, readSync, type Stats } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CanopyError } from '../core/errors';
import { abortedError, type HttpClient, type HttpRequest, type HttpResponse } from './http-client';

const SMALL_FILE = 1 << 20;

function header(req: HttpRequest, name: string): string | undefined {
  if (!req.headers) return undefined;
  for (const [k, v] of Object.entries(req.headers)) if (k.toLowerCase() === name) return v;
  return undefined;
}

/** The ETag a file:// response carries. */
export function fileEtag(st: Stats): string {
  return `"${st.ino.toString(16)}-${st.size.toString(16)}-${Math.floor(st.mtimeMs).toString(16)}"`;
}

/** Parses a single `bytes=a-b` / `bytes=a-` range against a size; undefined when not satisfiable. */
export function parseRange(value: string, size: number): { start: number; end: number } | undefined {
  const m = /^bytes=(\d+)-(\d*)$/.exec(value.trim());
  if (!m) return undefined;
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (!Number.isSafeInteger(start) || start >= size || end < start) return undefined;
  return { start, end };
}

function empty(status: number, headers: Record<string, string> = {}): HttpResponse {
  return { status, headers, body: (async function* () {})(), dump: async () => {} };
}

function statusForErrno(code: string | undefined): number | undefined {
  if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR' || code === 'ELOOP') return 404;
  if (code === 'EACCES' || code === 'EPERM') return 403;
  return undefined;
}

/** Reads bytes start..end (inclusive) of an open file synchronously and closes it. */
function readAll(fd: number, start: number, end: number, url: string): Buffer {
  const len = end - start + 1;
  try {
    const buf = Buffer.allocUnsafe(len);
    let off = 0;
    while (off < len) {
      const n = readSync(fd, buf, off, len - off, start + off);
      if (n === 0) throw new CanopyError('ERR_NETWORK', `GET ${url}: the file shrank while it was read`, { url, transient: true });
      off += n;
    }
    return buf;
  } finally {
    closeSync(fd);
  }
}

async function* streamChunks(path: string, start: number, end: number, url: string, signal?: AbortSignal): AsyncGenerator<Uint8Array> {
  const stream = createReadStream(path, { start, end, highWaterMark: 1 << 20, signal });
  try {
    for await (const c of stream) yield c as Buffer;
  } catch (e) {
    if (signal?.aborted) throw abortedError(`GET ${url}`, signal);
    throw new CanopyError('ERR_NETWORK', `GET ${url}: ${(e as Error).message}`, { url, transient: false }, { cause: e });
  } finally {
    stream.destroy();
  }
}

/** The `file://` client. Only `file:` URLs are accepted (ERR_INVALID_ARGUMENT otherwise). */
export function createFileClient(): HttpClient {
  return {
    async get(req: HttpRequest): Promise<HttpResponse> {
      if (req.signal?.aborted) throw abortedError(`GET ${req.url}`, req.signal);
      let path: string;
      try {
        path = fileURLToPath(req.url);
      } catch (e) {
        throw new CanopyError('ERR_INVALID_ARGUMENT', `not a file: URL: ${req.url}`, { url: req.url }, { cause: e });
      }
      let fd: number;
      let st: Stats;
      try {
        fd = openSync(path, 'r');
      } catch (e) {
        const status = statusForErrno((e as NodeJS.ErrnoException).code);
        if (status) return empty(status);
        throw new CanopyError('ERR_NETWORK', `GET ${req.url}: ${(e as Error).message}`, { url: req.url, transient: false }, { cause: e });
      }
      try {
        st = fstatSync(fd);
      } catch (e) {
        closeSync(fd);
        throw new CanopyError('ERR_NETWORK', `GET ${req.url}: ${(e as Error).message}`, { url: req.url, transient: false }, { cause: e });
      }
      if (!st.isFile()) {
        closeSync(fd);
        return empty(404);
      }
      const etag = fileEtag(st);
      const lastModified = st.mtime.toUTCString();
      const common = { etag, 'last-modified': lastModified, 'accept-ranges': 'bytes' };
      const inm = header(req, 'if-none-match');
      const ims = header(req, 'if-modified-since');
      if ((inm !== undefined && inm.split(',').map((s) => s.trim()).includes(etag))
        || (inm === undefined && ims !== undefined && Math.floor(st.mtimeMs / 1000) <= Math.floor(Date.parse(ims) / 1000))) {
        closeSync(fd);
        return empty(304, common);
      }
      let start = 0;
      let end = st.size - 1;
      let status = 200;
      const extra: Record<string, string> = {};
      const range = header(req, 'range');
      const ifRange = header(req, 'if-range');
      if (range !== undefined && (ifRange === undefined || ifRange === etag)) {
        const r = parseRange(range, st.size);
        if (!r) {
          closeSync(fd);
          return empty(416, { ...common, 'content-range': `bytes */${st.size}` });
        }
        ({ start, end } = r);
        status = 206;
        extra['content-range'] = `bytes ${start}-${end}/${st.size}`;
      }
      const length = st.size === 0 ? 0 : end - start + 1;
      let body: AsyncGenerator<Uint8Array>;
      if (length > SMALL_FILE) {
        closeSync(fd);
        body = streamChunks(path, start, end, req.url, req.signal);
      } else {
        const data = length === 0 ? (closeSync(fd), Buffer.alloc(0)) : readAll(fd, start, end, req.url);
        body = (async function* () {
          if (data.length) yield data;
        })();
      }
      return {
        status,
        headers: { ...common, ...extra, 'content-length': String(length) },
        body,
        async dump() {
          await body.return(undefined);
        },
      };
    },
    async close() {},
  };
}
