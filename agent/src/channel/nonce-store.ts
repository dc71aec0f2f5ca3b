/**
 * The replay store: which command nonces a device has accepted (until
 * they expire) and the newest announcement it accepted per channel. One
 * small JSON file, rewritten atomically (temporary file, fsync, rename,
 * fsync of the directory) before a message is acted on, so a power cut can
 * never make the device forget a command it already ran.
 *
 * It is bounded: at most `capacity` nonces. When it is full the entry
 * that expires first is dropped and its expiry becomes a floor: a command
 * expiring at or before the floor is refused as replayed, because the
 * store can no longer tell. A file that exists but cannot be read sets a
 * second floor at the time of loading: commands created before it are
 * refused, since any of them might have run already.
 *
 * File format (`v` 1):
 *   {"v":1,"expiresFloor":ms,"createdFloor":ms,
 *    "nonces":{"<nonce>":expiresMs,…},"announcements":{"<channel>":createdMs,…}}
 */
import { readFileSync } from 'node:fs';
import { CanopyError, ioError } from '../core/errors';
import { writeFileDurable } from '../platform/durable-file';

/** The file operations the store needs (inject a fake in tests). */
export interface StoreFs {
  /** The file's bytes, or undefined when it does not exist. */
  readFile(path: string): Promise<Uint8Array | undefined>;
  /** Replaces the file atomically and durably. */
  writeFileAtomic(path: string, data: Uint8Array): Promise<void>;
}

/** {@link StoreFs} on node:fs. */
export const nodeStoreFs: StoreFs = {
  async readFile(path) {
    try {
      return readFileSync(path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw ioError(e, 'read', path);
    }
  },
  async writeFileAtomic(path, data) {
    writeFileDurable(path, data, { dirMode: 0o755 });
  },
};

export interface NonceStoreOptions {
  /** The store file, e.g. `/var/lib/canopy/replay.json`. */
  path: string;
  fs?: StoreFs;
  /** Milliseconds since the epoch (default Date.now). */
  now?: () => number;
  /** Most nonces kept (default 1024). */
  capacity?: number;
  /** Nonces are kept this long after their expiry (the clock-skew tolerance), in ms. */
  keepAfterExpiryMs?: number;
}

/** How a message compares with what the store has seen. */
export type ReplayVerdict = 'fresh' | 'replayed';
export type AnnouncementVerdict = 'newer' | 'same' | 'older';

const MAX_CHANNELS = 64;

/** The persistent set of seen nonces and announcement high-water marks. */
export class NonceStore {
  readonly #path: string;
  readonly #fs: StoreFs;
  readonly #now: () => number;
  readonly #capacity: number;
  readonly #keepMs: number;
  #nonces = new Map<string, number>();
  #announcements = new Map<string, number>();
  #expiresFloor = 0;
  #createdFloor = 0;
  #queue: Promise<unknown> = Promise.resolve();
  /** Set when the file existed but could not be read; the reason. */
  recovered: string | undefined;

  private constructor(opts: NonceStoreOptions) {
    this.#path = opts.path;
    this.#fs = opts.fs ?? nodeStoreFs;
    this.#now = opts.now ?? Date.now;
    this.#capacity = opts.capacity ?? 1024;
    this.#keepMs = opts.keepAfterExpiryMs ?? 0;
    if (!(this.#capacity >= 1)) throw new CanopyError('ERR_INVALID_ARGUMENT', `nonce store capacity must be at least 1, got ${this.#capacity}`);
  }

  /**
   * Loads the store. A missing file is an empty store; a file that cannot
   * be parsed is replaced by an empty store with a created-floor at now
   * (see the module notes), and `recovered` says why.
   *
   * @throws ERR_IO / ERR_PERMISSION when the file cannot be read at all.
   */
  static async open(opts: NonceStoreOptions): Promise<NonceStore> {
    const s = new NonceStore(opts);
    const bytes = await s.#fs.readFile(s.#path);
    if (bytes !== undefined) {
      try {
        s.#load(JSON.parse(Buffer.from(bytes).toString('utf8')));
      } catch (e) {
        s.#nonces.clear();
        s.#announcements.clear();
        s.#expiresFloor = 0;
        s.#createdFloor = s.#now();
        s.recovered = `${s.#path} is unreadable (${(e as Error).message}); commands created before ${new Date(s.#createdFloor).toISOString()} are refused`;
      }
    }
    return s;
  }

  #load(doc: unknown): void {
    const d = doc as { v?: unknown; expiresFloor?: unknown; createdFloor?: unknown; nonces?: unknown; announcements?: unknown };
    if (typeof d !== 'object' || d === null || d.v !== 1) throw new Error('not a version 1 replay store');
    const num = (x: unknown): number => {
      if (typeof x !== 'number' || !Number.isFinite(x)) throw new Error(`bad number ${JSON.stringify(x)}`);
      return x;
    };
    this.#expiresFloor = num(d.expiresFloor ?? 0);
    this.#createdFloor = num(d.createdFloor ?? 0);
    for (const [k, v] of Object.entries((d.nonces ?? {}) as Record<string, unknown>)) this.#nonces.set(k, num(v));
    for (const [k, v] of Object.entries((d.announcements ?? {}) as Record<string, unknown>)) this.#announcements.set(k, num(v));
    this.#prune();
  }

  /** Number of nonces held. */
  get size(): number {
    return this.#nonces.size;
  }

  /** True when the nonce would be refused now (nothing is recorded). */
  isReplay(nonce: string, createdMs: number, expiresMs: number): boolean {
    return this.#nonces.has(nonce) || expiresMs <= this.#expiresFloor || createdMs < this.#createdFloor;
  }

  /**
   * Records a command's nonce unless it is a replay. The file is written
   * before this resolves 'fresh'; when writing fails nothing is recorded
   * and the error is thrown (the caller must not act on the command).
   *
   * @throws ERR_IO, ERR_NO_SPACE, ERR_PERMISSION when the store cannot be written.
   */
  record(nonce: string, createdMs: number, expiresMs: number): Promise<ReplayVerdict> {
    return this.#serial(async () => {
      if (this.isReplay(nonce, createdMs, expiresMs)) return 'replayed';
      const before = this.#snapshot();
      this.#prune();
      this.#nonces.set(nonce, expiresMs);
      while (this.#nonces.size > this.#capacity) {
        let first: [string, number] | undefined;
        for (const e of this.#nonces) if (!first || e[1] < first[1]) first = e;
        this.#nonces.delete(first![0]);
        this.#expiresFloor = Math.max(this.#expiresFloor, first![1]);
      }
      await this.#persist(before);
      return 'fresh';
    });
  }

  /**
   * Compares an announcement's creation time with the newest accepted on
   * its channel and, when it is newer, records it (durably, before
   * resolving).
   *
   * @throws ERR_IO, ERR_NO_SPACE, ERR_PERMISSION when the store cannot be written.
   */
  recordAnnouncement(channel: string, createdMs: number): Promise<AnnouncementVerdict> {
    return this.#serial(async () => {
      const last = this.#announcements.get(channel);
      if (last !== undefined && createdMs < last) return 'older';
      if (last === createdMs) return 'same';
      const before = this.#snapshot();
      this.#announcements.delete(channel);
      this.#announcements.set(channel, createdMs);
      while (this.#announcements.size > MAX_CHANNELS) this.#announcements.delete(this.#announcements.keys().next().value!);
      await this.#persist(before);
      return 'newer';
    });
  }

  #prune(): void {
    const limit = this.#now() - this.#keepMs;
    for (const [k, exp] of this.#nonces) if (exp < limit) this.#nonces.delete(k);
  }

  #snapshot(): () => void {
    const nonces = new Map(this.#nonces);
    const ann = new Map(this.#announcements);
    const floor = this.#expiresFloor;
    return () => {
      this.#nonces = nonces;
      this.#announcements = ann;
      this.#expiresFloor = floor;
    };
  }

  async #persist(restore: () => void): Promise<void> {
    const doc = {
      v: 1,
      expiresFloor: this.#expiresFloor,
      createdFloor: this.#createdFloor,
      nonces: Object.fromEntries(this.#nonces),
      announcements: Object.fromEntries(this.#announcements),
    };
    try {
      await this.#fs.writeFileAtomic(this.#path, Buffer.from(JSON.stringify(doc)));
    } catch (e) {
      restore();
      throw ioError(e, 'write', this.#path);
    }
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn, fn);
    this.#queue = run.catch(() => undefined);
    return run;
  }
}
