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
 * Jobs go out in batches: whatever arrived during one turn of the event
 * loop is sent as one message when the loop next goes idle, or sooner once
 * a batch is full (a message per object would cost more than the work for
 * small ones). Each job's bytes
 * are copied once, when it is queued, into a buffer that is then
 * transferred to the worker, not cloned.
 *
 * The worker is plain JavaScript evaluated from a string, so a single-file
 * bundle needs nothing next to it. It starts on the first job: a pull that
 * finds everything present never starts a thread.
 */
import { Worker } from 'node:worker_threads';

/** One regular-file object to verify, and to store when {@link path} is given. */
export interface ObjectJob {
  readonly checksum: string;
  /** The whole `.filez` as fetched. */
  readonly filez: Uint8Array;
  /** Where the DEFLATE data starts in {@link filez}. */
  readonly dataOffset: number;
  /** The checksummed file header (`fileHeaderBytes`), hashed before the content. */
  readonly header: Uint8Array;
  /** Content size the header declares. */
  readonly size: number;
  /** The file to create once verified (it must not exist); without it the job only verifies. */
  readonly path?: string;
  /** Write the `.filez` as fetched (archive repositories) instead of the inflated content. */
  readonly raw?: boolean;
  /** Permission bits, applied exactly. */
  readonly mode?: number;
  readonly owner?: { readonly uid: number; readonly gid: number };
  /** Set atime and mtime to 0, as bare repositories keep objects. */
  readonly zeroTime?: boolean;
}

/** Why a job failed: the content (`invalid`, `mismatch`) or the file system (`io`, with the errno code). */
export type ObjectFailure =
  | { readonly kind: 'invalid'; readonly message: string }
  | { readonly kind: 'mismatch'; readonly actual: string }
  | { readonly kind: 'io'; readonly message: string; readonly code?: string; readonly syscall?: string };

/** Numbers per job on the wire (see {@link ObjectPool.send}). */
const FIELDS = 7;
const F_HEADER = 0, F_DATA = 1, F_SIZE = 2, F_MODE = 3, F_UID = 4, F_GID = 5, F_FLAGS = 6;
const FLAG_RAW = 1, FLAG_OWNER = 2, FLAG_ZERO_TIME = 4;
/** A batch is sent at once when it holds this many jobs or bytes, else when the event loop turns. */
const BATCH_JOBS = 64;
const BATCH_BYTES = 1 << 20;

const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { inflateRawSync } = require('node:zlib');
const { createHash } = require('node:crypto');
const fs = require('node:fs');
const umask = process.umask();
function runJob(bytes, n, checksum, path) {
  const headerLen = n[${F_HEADER}], size = n[${F_SIZE}], mode = n[${F_MODE}], flags = n[${F_FLAGS}];
  const header = bytes.subarray(0, headerLen);
  const filez = bytes.subarray(headerLen);
  let content;
  try {
    content = inflateRawSync(filez.subarray(n[${F_DATA}]), { maxOutputLength: Math.max(1, size), chunkSize: Math.min(Math.max(size, 64), 16 << 20) });
  } catch (e) {
    return { kind: 'invalid', message: 'content does not inflate to the declared ' + size + ' bytes: ' + ((e && e.message) || e) };
  }
  if (content.length !== size) return { kind: 'invalid', message: 'content inflates to ' + content.length + ' bytes, the header says ' + size };
  const actual = createHash('sha256').update(header).update(content).digest('hex');
  if (actual !== checksum) return { kind: 'mismatch', actual };
  if (!path) return undefined;
  const out = flags & ${FLAG_RAW} ? filez : content;
  let fd;
  try {
    fd = fs.openSync(path, 'wx', mode);
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
  const failures = [];
  for (let i = 0; i < b.count; i++) {
    const f = runJob(new Uint8Array(b.bufs[i]), b.nums.subarray(i * ${FIELDS}, (i + 1) * ${FIELDS}), names[2 * i], names[2 * i + 1]);
    if (f) failures.push([i, f]);
  }
  parentPort.postMessage({ id: b.id, failures });
});
`;

interface Waiter {
  resolve: (f: ObjectFailure | undefined) => void;
  reject: (e: unknown) => void;
}

/** A job as queued: its bytes copied into a buffer of its own (header, then the `.filez`). */
interface Queued {
  readonly buf: ArrayBuffer;
  readonly nums: readonly number[];
  readonly checksum: string;
  readonly path: string;
}

export class ObjectPool {
  private readonly workers: Worker[] = [];
  private readonly load: number[] = [];
  private readonly pending = new Map<number, Waiter[]>();
  private batch: Queued[] = [];
  private waiters: Waiter[] = [];
  private batchBytes = 0;
  private scheduled = false;
  private nextId = 0;
  private next = 0;
  private broken: unknown;
  /** Bytes of jobs queued or with a worker, not yet done. */
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
    const bytes = new Uint8Array(job.header.length + job.filez.length);
    bytes.set(job.header, 0);
    bytes.set(job.filez, job.header.length);
    const nums = [0, 0, 0, 0, 0, 0, 0];
    nums[F_HEADER] = job.header.length;
    nums[F_DATA] = job.dataOffset;
    nums[F_SIZE] = job.size;
    nums[F_MODE] = job.mode ?? 0;
    nums[F_UID] = job.owner?.uid ?? 0;
    nums[F_GID] = job.owner?.gid ?? 0;
    nums[F_FLAGS] = (job.raw ? FLAG_RAW : 0) | (job.owner ? FLAG_OWNER : 0) | (job.zeroTime ? FLAG_ZERO_TIME : 0);
    this.batch.push({ buf: bytes.buffer, nums, checksum: job.checksum, path: job.path ?? '' });
    const size = bytes.length;
    this.queuedBytes += size;
    const done = new Promise<ObjectFailure | undefined>((resolve, reject) => this.waiters.push({
      resolve: (f) => {
        this.queuedBytes -= size;
        resolve(f);
      },
      reject,
    }));
    this.batchBytes += size;
    // A caller that queues many jobs without yielding (fsck's read loop) gets them sent as it goes.
    if (this.batch.length >= BATCH_JOBS || this.batchBytes >= BATCH_BYTES) this.send();
    else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        this.send();
      });
    }
    return done;
  }

  private start(): void {
    for (let i = 0; i < this.size; i++) {
      const w = new Worker(WORKER_SOURCE, { eval: true });
      w.on('message', (m: { id: number; failures: Array<[number, ObjectFailure]> }) => {
        const waiters = this.pending.get(m.id);
        if (!waiters) return;
        this.pending.delete(m.id);
        // An idle worker must not keep the process alive (a caller that never closes the pool).
        if (--this.load[i] === 0) w.unref();
        const failed = new Map(m.failures);
        waiters.forEach((w, k) => w.resolve(failed.get(k)));
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
   * jobs' buffers transferred, their numbers in one Float64Array, checksums
   * and paths in one string (cloning many small objects costs far more).
   */
  private send(): void {
    const jobs = this.batch;
    if (jobs.length === 0) return;
    if (this.workers.length === 0) this.start();
    const waiters = this.waiters;
    this.batch = [];
    this.batchBytes = 0;
    this.waiters = [];
    const nums = new Float64Array(jobs.length * FIELDS);
    const names: string[] = [];
    jobs.forEach((j, i) => {
      nums.set(j.nums, i * FIELDS);
      names.push(j.checksum, j.path);
    });
    let i = this.next++ % this.workers.length;
    for (let k = 0; k < this.workers.length; k++) if (this.load[k] < this.load[i]) i = k;
    const id = this.nextId++;
    if (this.load[i]++ === 0) this.workers[i].ref();
    this.pending.set(id, waiters);
    const bufs = jobs.map((j) => j.buf);
    this.workers[i].postMessage({ id, count: jobs.length, bufs, nums, names: names.join('\0') }, [...bufs, nums.buffer]);
  }

  private fail(e: unknown): void {
    this.broken ??= e;
    for (const waiters of this.pending.values()) for (const w of waiters) w.reject(e);
    this.pending.clear();
  }

  /** Stops the workers (after their batches: callers wait for their jobs first). */
  async close(): Promise<void> {
    const ws = this.workers.splice(0);
    await Promise.all(ws.map((w) => w.terminate()));
  }
}
