/**
 * A small pool of worker threads that inflate and hash `.filez` content, so
 * fsck of an archive repository uses both cores: the main thread reads
 * files and parses headers, the workers run DEFLATE and sha256. Work goes
 * out in batches (per-message overhead would otherwise dominate for small
 * objects) with the compressed bytes transferred, not copied.
 *
 * The worker is a few lines of plain JavaScript evaluated from a string, so
 * it needs no file of its own next to a single-file bundle.
 */
import { Worker } from 'node:worker_threads';

/** One object to verify: its compressed content and the framed file header the checksum starts with. */
export interface InflateItem {
  readonly compressed: Uint8Array;
  readonly header: Uint8Array;
  /** Uncompressed size from the `.filez` header. */
  readonly size: number;
}

/** What a worker found: the digest, or why the content could not be inflated. */
export type InflateResult =
  | { readonly digest: string; readonly length: number }
  | { readonly error: string; readonly code?: string };

const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { inflateRawSync } = require('node:zlib');
const { createHash } = require('node:crypto');
parentPort.on('message', (batch) => {
  const out = [];
  for (const it of batch.items) {
    try {
      const content = inflateRawSync(it.compressed, { maxOutputLength: it.size + 1 });
      const h = createHash('sha256').update(it.header).update(content);
      out.push({ digest: h.digest('hex'), length: content.length });
    } catch (e) {
      out.push({ error: String((e && e.message) || e), code: e && e.code });
    }
  }
  parentPort.postMessage({ id: batch.id, out });
});
`;

/** Items per batch and bytes per batch before it is sent. */
const BATCH_ITEMS = 64;
const BATCH_BYTES = 1 << 20;
/** Batches in flight per worker. */
const DEPTH = 2;

interface Pending {
  items: InflateItem[];
  resolve: (r: InflateResult[]) => void;
  reject: (e: unknown) => void;
}

export class InflatePool {
  private readonly workers: Worker[] = [];
  private readonly load: number[] = [];
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private batch: InflateItem[] = [];
  private batchBytes = 0;
  private batchWaiters: Array<(r: InflateResult) => void> = [];
  private readonly inFlight = new Set<Promise<void>>();
  private failed: unknown;

  constructor(size: number) {
    for (let i = 0; i < size; i++) {
      const w = new Worker(WORKER_SOURCE, { eval: true });
      w.on('message', (m: { id: number; out: InflateResult[] }) => {
        const p = this.pending.get(m.id);
        if (!p) return;
        this.pending.delete(m.id);
        this.load[i]--;
        p.resolve(m.out);
      });
      w.on('error', (e) => this.fail(e));
      this.workers.push(w);
      this.load.push(0);
    }
  }

  private fail(e: unknown): void {
    this.failed = e;
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }

  /** Queues an item; the promise settles when its batch comes back. */
  submit(item: InflateItem): Promise<InflateResult> {
    const result = new Promise<InflateResult>((resolve) => this.batchWaiters.push(resolve));
    this.batch.push(item);
    this.batchBytes += item.compressed.length;
    return result;
  }

  /** True when the current batch should be sent. */
  get batchFull(): boolean {
    return this.batch.length >= BATCH_ITEMS || this.batchBytes >= BATCH_BYTES;
  }

  /** Sends the current batch to the least loaded worker, waiting while every worker is busy. */
  async flush(): Promise<void> {
    if (this.batch.length === 0) return;
    if (this.failed) throw this.failed;
    while (Math.min(...this.load) >= DEPTH) await Promise.race(this.inFlight);
    const items = this.batch;
    const waiters = this.batchWaiters;
    this.batch = [];
    this.batchBytes = 0;
    this.batchWaiters = [];
    const i = this.load.indexOf(Math.min(...this.load));
    const id = this.nextId++;
    this.load[i]++;
    const done = new Promise<InflateResult[]>((resolve, reject) => this.pending.set(id, { items, resolve, reject }));
    const transfer = items.map((it) => it.compressed.buffer as ArrayBuffer);
    this.workers[i].postMessage({ id, items }, transfer);
    const tracked: Promise<void> = done.then(
      (out) => out.forEach((r, k) => waiters[k](r)),
      (e) => waiters.forEach((w) => w({ error: String((e as Error)?.message ?? e) })),
    ).finally(() => this.inFlight.delete(tracked));
    this.inFlight.add(tracked);
  }

  /** Sends what is queued and waits for every batch. */
  async drain(): Promise<void> {
    await this.flush();
    await Promise.all(this.inFlight);
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
