/**
 * Re-hashing content (file) objects for fsck, per repository mode:
 *
 * - archive: parse the `.filez` header, inflate, hash header ‖ content.
 *   Inflation runs on the libuv pool with a bounded window (count and
 *   bytes), so the main thread reads and hashes while the pool inflates.
 * - bare-user-only: uid/gid 0, the mode from lstat, no xattrs.
 * - bare: the real uid, gid and mode and the real xattrs, read for all
 *   objects with one `getfattr` over `objects/`.
 *
 * Files whose content exceeds {@link STREAM_THRESHOLD} are streamed so
 * memory stays bounded.
 */
import { createHash, type Hash } from 'node:crypto';
import { closeSync, createReadStream, fstatSync, lstatSync, openSync, readlinkSync, readSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import { createInflateRaw, inflateRaw, inflateRawSync } from 'node:zlib';
import { CanopyError, ioError } from '../core/errors';
import { fileHeaderBytes, isLinkMode, parseArchiveHeader, type FileHeader, type Xattr } from '../objects/index';
import type { Repo } from './repo';
import type { ListedObject } from './walk';
import { hashFileInto } from '../platform/hash-file';
import { ObjectPool } from './object-pool';
import { readTreeXattrs } from './xattr-io';

/** Content larger than this is streamed instead of held in memory. */
export const STREAM_THRESHOLD = 64 << 20;
/**
 * Archive objects whose content is at most this size are inflated on the
 * main thread: for small objects the hop to the pool costs more than it
 * saves (measured: all-pool was ~30% slower than all-inline on 7.9k
 * objects); larger ones go to the pool so the main thread keeps reading.
 */
const SYNC_INFLATE_MAX = 128 << 10;
/** Inflations in flight on the libuv pool, and the bytes they may hold. */
const MAX_IN_FLIGHT = 8;
const MAX_IN_FLIGHT_BYTES = 64 << 20;
/** Compressed bytes queued for the worker pool before reading waits (enough to keep both workers busy). */
const MAX_POOL_BYTES = 8 << 20;
/** Read at least this much of a streamed `.filez` at once, so its header is in it. */
const MIN_PREFIX = 64 << 10;
/**
 * Archive repositories with at least this many content objects are
 * verified with worker threads inflating and hashing (measured on a Debian
 * rootfs: fsck 1.15x ostree's time on one thread, well under it on two).
 */
const POOL_MIN_OBJECTS = 256;

/** 'ok', 'vanished' (deleted while fsck ran), or why the object is corrupt. */
export type ContentVerdict = 'ok' | 'vanished' | CanopyError;

/**
 * Verifies every content object in `objs` and reports each verdict through
 * `onResult` (in completion order). Throws ERR_XATTR when a bare
 * repository's attributes cannot be read.
 */
export async function verifyContentObjects(
  repo: Repo, objs: readonly ListedObject[], onResult: (o: ListedObject, v: ContentVerdict) => void, onProgress: (done: number) => void,
  streamThreshold = STREAM_THRESHOLD, workerThreshold = POOL_MIN_OBJECTS,
): Promise<void> {
  let done = 0;
  const scratch = new Scratch();
  const report = (o: ListedObject, v: ContentVerdict): void => {
    onResult(o, v);
    onProgress(++done);
  };
  if (repo.mode !== 'archive') {
    const xattrs = repo.mode === 'bare' && objs.length > 0 ? readTreeXattrs(join(repo.path, 'objects')) : new Map<string, Xattr[]>();
    for (const o of objs) {
      const abs = join(repo.path, o.relPath);
      report(o, guard(() => compare(o.checksum, bareChecksum(abs, repo.mode, xattrs.get(abs) ?? [], streamThreshold, scratch))));
    }
    return;
  }
  const inFlight = new Set<Promise<void>>();
  let bytesInFlight = 0;
  const pool = objs.length >= workerThreshold && availableParallelism() > 1 ? new ObjectPool(2) : undefined;
  try {
    for (const o of objs) {
      const abs = join(repo.path, o.relPath);
      let job: ArchiveJob | PoolJob | ContentVerdict;
      try {
        job = startArchive(abs, o.checksum, streamThreshold, scratch, pool);
      } catch (e) {
        job = verdictOf(e);
      }
      if (job instanceof PoolJob) {
        const p: Promise<void> = job.verdict.then((v) => report(o, v)).finally(() => inFlight.delete(p));
        inFlight.add(p);
        // The pool holds a copy of each job until its worker is done with it.
        while (pool!.queuedBytes > MAX_POOL_BYTES) await Promise.race(inFlight);
        continue;
      }
      if (!(job instanceof ArchiveJob)) {
        report(o, job);
        continue;
      }
      const cost = job.cost;
      bytesInFlight += cost;
      const p: Promise<void> = job.finish().then((v) => report(o, v)).finally(() => {
        bytesInFlight -= cost;
        inFlight.delete(p);
      });
      inFlight.add(p);
      while (bytesInFlight > MAX_IN_FLIGHT_BYTES || (!pool && inFlight.size >= MAX_IN_FLIGHT)) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
  } finally {
    await pool?.close();
  }
}

/** A `.filez` handed to the worker pool; `verdict` settles when its batch returns. */
class PoolJob {
  constructor(readonly verdict: Promise<ContentVerdict>) {}
}

function verdictOf(e: unknown): ContentVerdict {
  if ((e as NodeJS.ErrnoException)?.code === 'ENOENT') return 'vanished';
  if (e instanceof CanopyError) return e;
  const z = e as NodeJS.ErrnoException;
  if (z?.code === 'ERR_BUFFER_TOO_LARGE') return new CanopyError('ERR_OBJECT_INVALID', 'compressed content is longer than the size in its header');
  if (typeof z?.code === 'string' && z.code.startsWith('Z_')) return new CanopyError('ERR_OBJECT_INVALID', `compressed content is corrupt: ${z.message}`, { zlib: z.code });
  return ioError(e, 'read', 'content object');
}

function guard(f: () => ContentVerdict): ContentVerdict {
  try {
    return f();
  } catch (e) {
    return verdictOf(e);
  }
}

function compare(expected: string, actual: string, detail = ''): ContentVerdict {
  if (actual === expected) return 'ok';
  return new CanopyError('ERR_CHECKSUM_MISMATCH', `checksum mismatch: the object hashes to ${actual}${detail}`, { checksum: expected, actual });
}

/**
 * A growing read buffer reused for every object one fsck verifies
 * synchronously, so reading thousands of files does not allocate (and
 * collect) each one. It lives as long as the fsck call.
 */
class Scratch {
  private buf = Buffer.allocUnsafe(1 << 20);

  /** Reads up to `n` bytes from the start of `fd`; returns a view valid until the next read. */
  read(fd: number, n: number): Buffer {
    if (this.buf.length < n) this.buf = Buffer.allocUnsafe(Math.max(n, this.buf.length * 2));
    let off = 0;
    while (off < n) {
      const r = readSync(fd, this.buf, off, n - off, off);
      if (r === 0) break;
      off += r;
    }
    return this.buf.subarray(0, off);
  }
}

/** Framed headers of regular files without xattrs depend only on uid, gid and mode: cache them. */
const plainHeaders = new Map<string, Buffer>();

function headerBytes(h: FileHeader): Buffer {
  if (h.xattrs.length > 0 || h.symlinkTarget !== '') return fileHeaderBytes(h);
  const key = `${h.uid}:${h.gid}:${h.mode}`;
  let b = plainHeaders.get(key);
  if (!b) {
    b = fileHeaderBytes(h);
    if (plainHeaders.size < 4096) plainHeaders.set(key, b);
  }
  return b;
}

/** The checksum of a bare or bare-user-only object as it is on disk. */
function bareChecksum(abs: string, mode: Repo['mode'], xattrs: readonly Xattr[], streamThreshold: number, scratch: Scratch): string {
  const st = lstatSync(abs);
  const link = st.isSymbolicLink();
  if (!link && !st.isFile()) throw new CanopyError('ERR_FILE_TYPE', `not a regular file or symlink (mode 0${st.mode.toString(8)})`, { mode: st.mode });
  const userOnly = mode === 'bare-user-only';
  const header: FileHeader = {
    uid: userOnly ? 0 : st.uid,
    gid: userOnly ? 0 : st.gid,
    mode: st.mode,
    symlinkTarget: link ? readlinkSync(abs, 'utf8') : '',
    xattrs: userOnly ? [] : xattrs,
  };
  const h = createHash('sha256').update(headerBytes(header));
  if (!link) {
    let n: number;
    if (st.size <= streamThreshold) {
      const fd = openSync(abs, 'r');
      try {
        const data = scratch.read(fd, st.size + 1); // one byte more: notices a file that grew
        h.update(data);
        n = data.length;
      } finally {
        closeSync(fd);
      }
    } else n = hashFileInto(h, abs);
    if (n !== st.size) throw new CanopyError('ERR_FILE_CHANGED', 'changed size while being read');
  }
  return h.digest('hex');
}

/** One `.filez` whose header is parsed and whose content is being inflated. */
class ArchiveJob {
  constructor(readonly cost: number, readonly finish: () => Promise<ContentVerdict>) {}
}

/**
 * Reads and parses a `.filez` and starts its verification. Small objects
 * and symlinks finish synchronously (a verdict); others return a job.
 */
function startArchive(abs: string, checksum: string, streamThreshold: number, scratch: Scratch, pool?: ObjectPool): ArchiveJob | PoolJob | ContentVerdict {
  const fd = openSync(abs, 'r');
  let data: Buffer;
  let fileSize: number;
  try {
    fileSize = fstatSync(fd).size;
    data = scratch.read(fd, Math.min(fileSize, Math.max(streamThreshold, MIN_PREFIX)));
  } finally {
    closeSync(fd);
  }
  // `data` is the shared buffer: everything below uses it before returning,
  // except the pool path, which takes a copy.
  const { header, dataOffset } = parseArchiveHeader(data);
  const framed = headerBytes(header);
  const h = createHash('sha256').update(framed);
  if (isLinkMode(header.mode)) return compare(checksum, h.digest('hex'));
  const size = header.size;
  const result = (content: Buffer | number): ContentVerdict => {
    const n = typeof content === 'number' ? content : (h.update(content), content.length);
    if (n !== size) return new CanopyError('ERR_OBJECT_INVALID', `content inflates to ${n} bytes, the header says ${size}`, { size, actual: n });
    return compare(checksum, h.digest('hex'));
  };
  if (fileSize > data.length || size > streamThreshold) {
    const start = dataOffset;
    return new ArchiveJob(8 << 20, () => streamInflate(abs, start, size, h).then(result, verdictOf));
  }
  if (pool) {
    // The pool copies the bytes it needs before `data` is reused.
    return new PoolJob(pool.run({ checksum, filez: data, dataOffset, header: framed, size }).then((f): ContentVerdict => {
      if (!f) return 'ok';
      if (f.kind === 'mismatch') return compare(checksum, f.actual);
      return new CanopyError('ERR_OBJECT_INVALID', f.message, { size });
    }));
  }
  if (size <= SYNC_INFLATE_MAX) return result(inflateRawSync(data.subarray(dataOffset), { maxOutputLength: size + 1 }));
  const compressed = Buffer.from(data.subarray(dataOffset));
  return new ArchiveJob(size + compressed.length, () => new Promise<ContentVerdict>((resolve) => {
    inflateRaw(compressed, { maxOutputLength: size + 1 }, (err, out) => resolve(err ? verdictOf(err) : guard(() => result(out))));
  }));
}

/** Inflates a large `.filez` from disk, hashing as it goes; returns the content length. */
async function streamInflate(abs: string, start: number, size: number, h: Hash): Promise<number> {
  let n = 0;
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      n += chunk.length;
      if (n > size) return cb(new CanopyError('ERR_OBJECT_INVALID', `content inflates to more than the ${size} bytes its header says`));
      h.update(chunk);
      cb();
    },
  });
  await pipeline(createReadStream(abs, { start }), createInflateRaw(), sink);
  return n;
}
