/**
 * bsdiff jobs on a small pool of worker threads (operator side). bsdiff is
 * CPU-bound pure JavaScript; with one job per core the generator uses the
 * machine while the main thread reads objects and builds parts.
 *
 * A worker runs this same file: loaded in a worker thread with the flag in
 * `workerData`, the module answers bsdiff requests instead of doing
 * nothing. The file is found as `__filename` in a CommonJS bundle, else
 * from a stack trace (an ES module run from source). When the operator CLI
 * bundle is the file, its entry point also runs in the worker, so the
 * worker is given the argv `static-delta __worker`, which the CLI treats
 * as a no-op. If no worker can be started, jobs run on the calling thread.
 *
 * Inputs are loaded only when a worker is free (`load` callbacks), so the
 * memory held is bounded by the pool size, not the number of jobs.
 */
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { CanopyError } from '../core/errors';
import { deflateRawSync } from 'node:zlib';
import { bsdiff } from './bsdiff';

const FLAG = 'canopyBsdiffWorker';
/** argv a worker running the CLI bundle is started with (the CLI ignores it). */
export const WORKER_ARGV: readonly string[] = ['static-delta', '__worker'];

interface Request { id: number; old: ArrayBuffer; nw: ArrayBuffer }
type Reply = { id: number; patch: ArrayBuffer; patchCost: number; rawCost: number } | { id: number; error: string };

/** A patch, with what it and the new file would roughly cost compressed (DEFLATE level 1 sizes). */
export interface BsdiffResult {
  patch: Uint8Array;
  patchCost: number;
  rawCost: number;
}

/** Computes a patch and the compressed-size estimates. */
export function bsdiffWithCost(old: Uint8Array, nw: Uint8Array): BsdiffResult {
  const patch = bsdiff(old, nw);
  return { patch, patchCost: deflateRawSync(patch, { level: 1 }).length, rawCost: deflateRawSync(nw, { level: 1 }).length };
}

if (!isMainThread && parentPort && (workerData as Record<string, unknown> | null)?.[FLAG] === true) {
  const port = parentPort;
  port.on('message', (m: Request) => {
    try {
      const r = bsdiffWithCost(new Uint8Array(m.old), new Uint8Array(m.nw));
      const out = r.patch.buffer.byteLength === r.patch.length ? r.patch.buffer as ArrayBuffer : r.patch.slice().buffer as ArrayBuffer;
      port.postMessage({ id: m.id, patch: out, patchCost: r.patchCost, rawCost: r.rawCost } satisfies Reply, [out]);
    } catch (e) {
      port.postMessage({ id: m.id, error: (e as Error).message } satisfies Reply);
    }
  });
}

/** The file this module was loaded from, or undefined when it cannot be told. */
function ownFile(): string | undefined {
  if (typeof __filename === 'string') return __filename;
  const stack = new Error().stack ?? '';
  const m = /(file:\/\/[^\s)]*?bsdiff-pool\.[cm]?[jt]s)/.exec(stack) ?? /\((\/[^\s)]*?bsdiff-pool\.[cm]?[jt]s):\d+/.exec(stack);
  if (!m) return undefined;
  return m[1].startsWith('file:') ? fileURLToPath(m[1]) : m[1];
}

/**
 * Running from TypeScript sources (tests, benchmarks) the worker has no
 * TypeScript loader of its own: it registers tsx (a development
 * dependency) before importing this file.
 */
function tsBootstrap(file: string): string {
  const url = JSON.stringify(pathToFileURL(file).href);
  return `require('tsx/cjs/api').require(${JSON.stringify(file)}, ${url});`;
}

/** Inputs of one job, produced when a worker is ready for it. */
export type BsdiffLoad = () => { old: Uint8Array; nw: Uint8Array } | Promise<{ old: Uint8Array; nw: Uint8Array }>;

interface Job {
  load: BsdiffLoad;
  resolve: (r: BsdiffResult) => void;
  reject: (e: unknown) => void;
}

function owned(b: Uint8Array): ArrayBuffer {
  const out = new ArrayBuffer(b.length);
  new Uint8Array(out).set(b);
  return out;
}

export class BsdiffPool {
  private readonly queue: Job[] = [];
  private readonly idle: Worker[] = [];
  private readonly busy = new Map<number, { worker: Worker; job: Job }>();
  private workers: Worker[] = [];
  private nextId = 1;
  private started = false;
  private inlineOnly = false;
  private closed = false;
  /** Jobs done by worker threads (the rest ran inline). */
  jobsOnWorkers = 0;
  /** Jobs run on the calling thread. */
  jobsInline = 0;

  /** @param size worker threads (0: run every job on the calling thread) */
  constructor(readonly size = 2) {
    if (size <= 0) this.inlineOnly = true;
  }

  private start(): void {
    this.started = true;
    if (this.inlineOnly) return;
    const file = ownFile();
    if (!file) {
      this.inlineOnly = true;
      return;
    }
    for (let i = 0; i < this.size; i++) {
      let w: Worker;
      try {
        w = file.endsWith('.ts') ? new Worker(tsBootstrap(file), { eval: true, workerData: { [FLAG]: true } })
          : new Worker(file, { workerData: { [FLAG]: true }, argv: [...WORKER_ARGV] });
      } catch {
        break;
      }
      w.on('message', (r: Reply) => this.done(w, r));
      w.on('error', (e) => this.failed(w, e));
      // A worker that ends without an error (its script did not take up the job) would otherwise
      // leave its job pending, and a process with nothing else to wait for exits with status 0.
      w.on('exit', (code) => {
        if (!this.closed) this.failed(w, new Error(`bsdiff worker exited with code ${code}`));
      });
      w.unref();
      this.workers.push(w);
      this.idle.push(w);
    }
    if (this.workers.length === 0) this.inlineOnly = true;
  }

  /** Queues a bsdiff of `old` -> `new`; resolves to the raw patch stream and its cost estimates. */
  diff(load: BsdiffLoad): Promise<BsdiffResult> {
    if (this.closed) return Promise.reject(new CanopyError('ERR_INVALID_ARGUMENT', 'bsdiff pool is closed'));
    if (!this.started) this.start();
    return new Promise((resolve, reject) => {
      this.queue.push({ load, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    if (this.inlineOnly) {
      const jobs = this.queue.splice(0);
      for (const job of jobs) {
        // Yield between jobs so callers' other work interleaves.
        setImmediate(() => {
          Promise.resolve(job.load()).then(({ old, nw }) => {
            this.jobsInline++;
            job.resolve(bsdiffWithCost(old, nw));
          }, job.reject);
        });
      }
      return;
    }
    while (this.idle.length > 0 && this.queue.length > 0) {
      const worker = this.idle.pop()!;
      const job = this.queue.shift()!;
      const id = this.nextId++;
      this.busy.set(id, { worker, job });
      worker.ref();
      Promise.resolve(job.load()).then(({ old, nw }) => {
        const o = owned(old);
        const n = owned(nw);
        worker.postMessage({ id, old: o, nw: n } satisfies Request, [o, n]);
      }, (e) => {
        this.busy.delete(id);
        worker.unref();
        this.idle.push(worker);
        job.reject(e);
        this.pump();
      });
    }
  }

  private done(worker: Worker, r: Reply): void {
    const entry = this.busy.get(r.id);
    if (!entry) return;
    this.busy.delete(r.id);
    worker.unref();
    this.idle.push(worker);
    if ('error' in r) entry.job.reject(new CanopyError('ERR_INVALID_ARGUMENT', `bsdiff failed: ${r.error}`));
    else {
      this.jobsOnWorkers++;
      entry.job.resolve({ patch: new Uint8Array(r.patch), patchCost: r.patchCost, rawCost: r.rawCost });
    }
    this.pump();
  }

  private failed(worker: Worker, e: unknown): void {
    this.workers = this.workers.filter((w) => w !== worker);
    const i = this.idle.indexOf(worker);
    if (i >= 0) this.idle.splice(i, 1);
    for (const [id, entry] of this.busy) {
      if (entry.worker !== worker) continue;
      this.busy.delete(id);
      // Run the job again elsewhere (or inline when no worker is left).
      this.queue.unshift(entry.job);
    }
    if (this.workers.length === 0) this.inlineOnly = true;
    if (process.env.CANOPY_DEBUG_POOL) console.error("bsdiff worker failed:", e);
    this.pump();
  }

  /** Stops the workers. Pending jobs are rejected. */
  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.queue.splice(0)) job.reject(new CanopyError('ERR_ABORTED', 'bsdiff pool closed'));
    const ws = this.workers;
    this.workers = [];
    await Promise.all(ws.map((w) => w.terminate()));
  }
}
