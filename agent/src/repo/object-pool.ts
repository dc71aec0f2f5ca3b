/**
 * Worker threads that verify `.filez` objects, and optionally write them,
 * so that pull and fsck use more than one core. A worker inflates the
 * content, checks its size, hashes header and content, and compares the
 * digest with the object's name. A job with a path then creates that file
 * (exclusive open, write, owner, mode, mtime 0) only when the digest
 * matched: nothing unverified is ever written. The pull hands fetched
 * objects over this way while its main thread speaks HTTP; fsck of an
 * archive repository verifies with it while its main thread reads files.
 *
 * Jobs go out in batches (a message per object would cost more than the
 * work for small ones): while a worker has room, whatever arrived during one
 * turn of the event loop is sent when the loop next goes idle; while all
 * are busy, jobs gather until one reports back; a full batch goes at once.
 * Each job's bytes are copied once, when it is queued, into the batch's
 * buffer, which is then transferred to the worker, not cloned.
 * A pull also has its symbolic links made and its metadata objects written
 * here, so its main thread only speaks HTTP and walks trees.
 *
 * The worker is plain JavaScript evaluated from a string, so a single-file
 * bundle needs nothing next to it. It starts on the first job, or earlier
 * when asked ({@link ObjectPool.warm}).
 */
import { Worker } from 'node:worker_threads';

/**
 * One object for a worker. By default a `.filez` to verify (and to store
 * when {@link path} is given); with {@link symlinkTarget}, a verified
 * symbolic-link object is stored as that link; with {@link plain}, bytes the
 * caller checked already are only written.
 */
export interface ObjectJob {
  readonly checksum: string;
  /** The whole `.filez` as fetched, or the bytes to write for a {@link plain} job. */
  readonly filez: Uint8Array;
  /** Where the DEFLATE data starts in {@link filez}. */
  readonly dataOffset?: number;
  /** The checksummed file header (`fileHeaderBytes`), hashed before the content. */
  readonly header?: Uint8Array;
  /** Content size the header declares. */
  readonly size?: number;
  /** The file to create once verified (it must not exist; its directory is made when missing); without it the job only verifies. */
  readonly path?: string;
  /** Write the `.filez` as fetched (archive repositories) instead of the inflated content. */
  readonly raw?: boolean;
  /** The object is a symbolic link to this target: it has no content, and is stored as a link unless {@link raw}. */
  readonly symlinkTarget?: string;
  /** Write {@link filez} as it is, without verifying (metadata objects the caller verified). */
  readonly plain?: boolean;
  /** Permission bits, applied exactly (not to links). */
  readonly mode?: number;
  readonly owner?: { readonly uid: number; readonly gid: number };
  /** Set atime and mtime to 0, as bare repositories keep objects (not for links). */
  readonly zeroTime?: boolean;
}

/** Why a job failed: the content (`invalid`, `mismatch`) or the file system (`io`, with the errno code). */
export type ObjectFailure =
  | { readonly kind: 'invalid'; readonly message: string }
  | { readonly kind: 'mismatch'; readonly actual: string }
  | { readonly kind: 'io'; readonly message: string; readonly code?: string; readonly syscall?: string };

/** Numbers per job on the wire (see {@link ObjectPool.send}). */
const FIELDS = 9;
const F_OFF = 0, F_LEN = 1, F_HEADER = 2, F_DATA = 3, F_SIZE = 4, F_MODE = 5, F_UID = 6, F_GID = 7, F_FLAGS = 8;
const FLAG_RAW = 1, FLAG_OWNER = 2, FLAG_ZERO_TIME = 4, FLAG_SYMLINK = 8, FLAG_PLAIN = 16;
/** A batch is sent at once when it holds this many jobs or bytes, else when the event loop turns. */
const BATCH_JOBS = 64;
const BATCH_BYTES = 1 << 20;
/** Batches a worker holds before new jobs wait for one to come back. */
const MAX_BATCHES_PER_WORKER = 2;
/**
 * Batch buffers kept for reuse: as many as a pull has out at once (its
 * store backlog is 8 MiB). A new buffer costs a page fault per 4 KiB the
 * first time it is written, which a reused one does not; with 4 kept, a
 * pull of 23 MB allocated 17 buffers, with 16 kept, 12.
 */
const SPARE_BUFFERS = 16;
/**
 * A worker's young generation. Its jobs allocate little on the heap (the
 * content is in buffers outside it), and each new page V8 grows it by is a
 * page fault: capped at 2 MiB, an update pull had about 2,000 fewer faults
 * and 5-20 MiB less peak memory (three runs each; 4 MiB made no difference).
 */
const WORKER_YOUNG_GENERATION_MB = 2;

const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { inflateRawSync } = require('node:zlib');
const { createHash } = require('node:crypto');
const fs = require('node:fs');
const umask = process.umask();
function verify(header, filez, n, checksum) {
  const size = n[${F_SIZE}];
  let content;
  if (n[${F_FLAGS}] & ${FLAG_SYMLINK}) {
    if (filez.length !== n[${F_DATA}]) return { failure: { kind: 'invalid', message: 'a symlink object carries content bytes' } };
    content = filez.subarray(0, 0);
  } else try {
    content = inflateRawSync(filez.subarray(n[${F_DATA}]), { maxOutputLength: Math.max(1, size), chunkSize: Math.min(Math.max(size, 64), 16 << 20) });
  } catch (e) {
    return { failure: { kind: 'invalid', message: 'content does not inflate to the declared ' + size + ' bytes: ' + ((e && e.message) || e) } };
  }
  if (content.length !== size) return { failure: { kind: 'invalid', message: 'content inflates to ' + content.length + ' bytes, the header says ' + size } };
  const actual = createHash('sha256').update(header).update(content).digest('hex');
  if (actual !== checksum) return { failure: { kind: 'mismatch', actual } };
  return { content };
}
// Runs a step that creates path; when its directory is missing, makes it and runs the step again.
function creating(path, step) {
  try {
    return step();
  } catch (e) {
    if (!e || e.code !== 'ENOENT') throw e;
    fs.mkdirSync(path.slice(0, path.lastIndexOf('/')), { recursive: true });
    return step();
  }
}
function runJob(bytes, n, checksum, path, target) {
  const mode = n[${F_MODE}], flags = n[${F_FLAGS}];
  let out;
  if (flags & ${FLAG_PLAIN}) out = bytes;
  else {
    const filez = bytes.subarray(n[${F_HEADER}]);
    const v = verify(bytes.subarray(0, n[${F_HEADER}]), filez, n, checksum);
    if (v.failure) return v.failure;
    out = flags & ${FLAG_RAW} ? filez : v.content;
  }
  if (!path) return undefined;
  if ((flags & ${FLAG_SYMLINK}) && !(flags & ${FLAG_RAW})) {
    let made = false;
    try {
      creating(path, () => fs.symlinkSync(target, path));
      made = true;
      if (flags & ${FLAG_OWNER}) fs.lchownSync(path, n[${F_UID}], n[${F_GID}]);
      return undefined;
    } catch (e) {
      if (made) try { fs.rmSync(path, { force: true }); } catch {}
      return { kind: 'io', message: String((e && e.message) || e), code: e && e.code, syscall: e && e.syscall };
    }
  }
  let fd;
  try {
    fd = creating(path, () => fs.openSync(path, 'wx', mode));
    for (let off = 0; off < out.length;) off += fs.writeSync(fd, out, off, out.length - off);
    if (flags & ${FLAG_OWNER}) fs.fchownSync(fd, n[${F_UID}], n[${F_GID}]);
    if ((mode & umask) !== 0 || ((flags & ${FLAG_OWNER}) && (mode & 0o6000) !== 0)) fs.fchmodSync(fd, mode);
    if (flags & ${FLAG_ZERO_TIME}) fs.futimesSync(fd, 0, 0);
    fs.closeSync(fd);
    fd = undefined;
    return undefined;
  } catch (e) {
    // Only a file this job created is removed: a failed exclusive open leaves whatever was there.
    if (fd !== undefined) {
      try { fs.closeSync(fd); } catch {}
      try { fs.rmSync(path, { force: true }); } catch {}
    }
    return { kind: 'io', message: String((e && e.message) || e), code: e && e.code, syscall: e && e.syscall };
  }
}
parentPort.on('message', (b) => {
  const names = b.names.split('\\0');
  const arena = new Uint8Array(b.arena);
  const failures = [];
  for (let i = 0; i < b.count; i++) {
    const n = b.nums.subarray(i * ${FIELDS}, (i + 1) * ${FIELDS});
    const f = runJob(arena.subarray(n[${F_OFF}], n[${F_OFF}] + n[${F_LEN}]), n, names[3 * i], names[3 * i + 1], names[3 * i + 2]);
    if (f) failures.push([i, f]);
  }
  // The buffer goes back for the next batch: its pages are mapped already.
  parentPort.postMessage({ id: b.id, failures, arena: b.arena }, [b.arena]);
});
`;

interface Waiter {
  resolve: (f: ObjectFailure | undefined) => void;
  reject: (e: unknown) => void;
}

export class ObjectPool {
  private readonly workers: Worker[] = [];
  private readonly load: number[] = [];
  private readonly pending = new Map<number, { waiters: Waiter[]; slack: number }>();
  /** The batch being filled: its jobs' bytes back to back in one buffer, their numbers, checksums, paths and link targets. */
  private arena: Uint8Array<ArrayBuffer> = new Uint8Array(0);
  /** Batch buffers the workers gave back, for reuse. */
  private readonly spare: Array<Uint8Array<ArrayBuffer>> = [];
  private used = 0;
  private nums: number[] = [];
  private names: string[] = [];
  private waiters: Waiter[] = [];
  private scheduled = false;
  private nextId = 0;
  private next = 0;
  private broken: unknown;
  /** Bytes of jobs queued or with a worker, not yet done (with the unused rest of their batches' buffers). */
  queuedBytes = 0;

  constructor(private readonly size: number) {}

  /**
   * Verifies (and stores) one object. The job's bytes are copied before
   * this returns, so the caller's buffers (slices of network chunks, a
   * shared read buffer) are not kept alive while the job waits. Resolves
   * with why it failed, or undefined once it verified (and the file exists).
   */
  run(job: ObjectJob): Promise<ObjectFailure | undefined> {
    if (this.broken) return Promise.reject(this.broken);
    const header = job.plain ? undefined : job.header;
    if (!job.plain && (!header || job.size === undefined)) return Promise.reject(new TypeError('an object job to verify needs its header and size'));
    const size = (header?.length ?? 0) + job.filez.length;
    if (this.used + size > this.arena.length) {
      this.send();
      const spare = this.spare.pop();
      this.arena = spare && spare.length >= size ? spare : new Uint8Array(Math.max(BATCH_BYTES, size));
    }
    const off = this.used;
    if (header) this.arena.set(header, off);
    this.arena.set(job.filez, off + (header?.length ?? 0));
    this.used += size;
    const flags = (job.raw ? FLAG_RAW : 0) | (job.owner ? FLAG_OWNER : 0) | (job.zeroTime ? FLAG_ZERO_TIME : 0)
      | (job.symlinkTarget !== undefined ? FLAG_SYMLINK : 0) | (job.plain ? FLAG_PLAIN : 0);
    this.nums.push(off, size, header?.length ?? 0, job.dataOffset ?? 0, job.size ?? 0, job.mode ?? 0, job.owner?.uid ?? 0, job.owner?.gid ?? 0, flags);
    this.names.push(job.checksum, job.path ?? '', job.symlinkTarget ?? '');
    this.queuedBytes += size;
    const done = new Promise<ObjectFailure | undefined>((resolve, reject) => this.waiters.push({
      resolve: (f) => {
        this.queuedBytes -= size;
        resolve(f);
      },
      reject,
    }));
    // A caller that queues many jobs without yielding (fsck's read loop) gets them sent as it goes.
    if (this.waiters.length >= BATCH_JOBS || this.used >= BATCH_BYTES) this.send();
    else if (!this.scheduled && this.hungry()) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        this.send();
      });
    }
    // Otherwise the batch grows until a worker reports back (see start()).
    return done;
  }

  /**
   * Whether a worker has room: fewer than {@link MAX_BATCHES_PER_WORKER}
   * batches. While all are busy, jobs gather into a bigger batch, so a
   * message carries more of them (each costs about as much as a small job).
   */
  private hungry(): boolean {
    return this.workers.length < this.size || this.load.some((l) => l < MAX_BATCHES_PER_WORKER);
  }

  /** Starts the workers before the first job, so that their start-up overlaps the caller's other work. */
  warm(): void {
    if (this.workers.length === 0 && !this.broken) this.start();
  }

  private start(): void {
    for (let i = 0; i < this.size; i++) {
      const w = new Worker(WORKER_SOURCE, { eval: true, resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB } });
      w.on('message', (m: { id: number; failures: Array<[number, ObjectFailure]>; arena: ArrayBuffer }) => {
        if (m.arena.byteLength === BATCH_BYTES && this.spare.length < SPARE_BUFFERS) this.spare.push(new Uint8Array(m.arena));
        const batch = this.pending.get(m.id);
        if (!batch) return;
        this.pending.delete(m.id);
        this.queuedBytes -= batch.slack;
        // An idle worker must not keep the process alive (a caller that never closes the pool).
        if (--this.load[i] === 0) w.unref();
        const failed = new Map(m.failures);
        batch.waiters.forEach((w, k) => w.resolve(failed.get(k)));
        if (this.waiters.length > 0 && !this.scheduled) this.send();
      });
      w.on('error', (e) => this.fail(e));
      w.on('exit', (code) => {
        if (this.pending.size > 0) this.fail(new Error(`an object worker exited (code ${code}) with work pending`));
      });
      w.unref();
      this.workers.push(w);
      this.load.push(0);
    }
  }

  /**
   * Sends the current batch to the least loaded worker as one message: the
   * batch's buffer transferred, the jobs' numbers in one Float64Array, their
   * strings in one string (cloning many small objects costs far more).
   */
  private send(): void {
    const count = this.waiters.length;
    if (count === 0) return;
    if (this.workers.length === 0) this.start();
    const waiters = this.waiters;
    const arena = this.arena.buffer;
    // The unused rest of the buffer counts as queued too, so many small batches cannot pile up whole buffers.
    const slack = arena.byteLength - this.used;
    this.queuedBytes += slack;
    const nums = new Float64Array(this.nums);
    const names = this.names.join('\0');
    this.arena = new Uint8Array(0);
    this.used = 0;
    this.nums = [];
    this.names = [];
    this.waiters = [];
    let i = this.next++ % this.workers.length;
    for (let k = 0; k < this.workers.length; k++) if (this.load[k] < this.load[i]) i = k;
    const id = this.nextId++;
    if (this.load[i]++ === 0) this.workers[i].ref();
    this.pending.set(id, { waiters, slack });
    this.workers[i].postMessage({ id, count, arena, nums, names }, [arena, nums.buffer]);
  }

  private fail(e: unknown): void {
    this.broken ??= e;
    for (const batch of this.pending.values()) for (const w of batch.waiters) w.reject(e);
    this.pending.clear();
  }

  /** Stops the workers (after their batches: callers wait for their jobs first). */
  async close(): Promise<void> {
    const ws = this.workers.splice(0);
    await Promise.all(ws.map((w) => w.terminate()));
  }
}
