/**
 * Storing what a pull verified, fast and crash-safe.
 *
 * Objects are staged in the pull's own scratch directory
 * (`tmp/staging-<pid>-pull-…`, removed like any dead staging directory)
 * off the main thread: with store workers (repo/object-pool.ts, the
 * default) a worker thread inflates, hashes and writes each fetched file
 * object, makes its symlinks and writes the metadata objects; without them
 * asynchronous file-system calls do the writing. Creating thousands of
 * files is mostly kernel time, and the main thread keeps fetching and
 * walking trees meanwhile. Metadata objects are
 * their GVariant bytes; an archive repository keeps fetched `.filez`
 * objects exactly as they came; bare repositories get real files with the
 * header's mode, mtime 0 and (in `bare`) owner and xattrs, the xattrs
 * applied in one `setfattr` batch, as the repository's Transaction writes
 * them.
 *
 * Checkpoints move staged objects into `objects/`: flush the staging
 * directory's file system (one `syncfs`, run as a child process without
 * blocking the pull), then rename. Every `checkpointIntervalMs` this runs
 * in the background, so a pull killed with SIGKILL loses at most about one
 * interval of work; {@link finish} runs a last one and flushes the renames
 * before the caller moves refs. Only objects whose write completed are
 * moved, and nothing reaches `objects/` unflushed. This is safe because a
 * commit stays marked partial (`state/<c>.commitpartial`) until its whole
 * tree is stored, and refs move only at the very end.
 *
 * A pull that finishes cleanly leaves its emptied scratch tree (the spool
 * directory and up to 256 directories, one per leading byte) in `tmp/` as
 * {@link SPARE_STAGING}, and the next pull renames it into place instead
 * of making its own. Removing those directories cost more than the rest
 * of the pull's cleanup (about 25 ms of a 1.2 s update, on a file system
 * mounted with `discard`); `ostree` keeps its staging directories too. The
 * rename is atomic, so two pulls never share one; anything other than an
 * emptied tree is removed, never parked.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, lstatSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { chmod, chown, lchown, open, readdir, symlink, utimes } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { createInflateRaw, deflateRaw } from 'node:zlib';
import { CanopyError, ioError } from '../core/errors';
import { archiveHeaderBytes, fileHeaderBytesOfArchive, isLinkMode, ObjectType, objectExtension, objectRelPath, type ArchiveFileHeader, type FileHeader, type Xattr } from '../objects/index';
import { applyXattrs, cleanStaleStaging, ObjectPool, type ObjectFailure, type Repo } from '../repo/index';
import { invalid, mismatch } from './content-verify';
import { writeObjectFile } from './object-file';
import type { PullObjectWriter } from './types';

const deflateRawAsync = promisify(deflateRaw);

/** Bytes of fetched objects that may wait for a store worker before fetching pauses. */
const MAX_STORE_BACKLOG = 8 << 20;

/** The emptied scratch tree a finished pull leaves in `tmp/` for the next one (not a `staging-` name: cleanStaleStaging keeps it). */
export const SPARE_STAGING = 'pull-staging-spare';

/**
 * Renames the spare scratch tree to `scratch` when there is one, this user
 * owns it, and it has the expected shape. False means the caller makes its
 * own.
 */
function claimSpare(spare: string, scratch: string): boolean {
  try {
    const st = lstatSync(spare);
    if (!st.isDirectory() || st.uid !== process.getuid?.()) return false;
    renameSync(spare, scratch);
  } catch {
    return false;
  }
  if (existsSync(join(scratch, 'spool')) && existsSync(join(scratch, 'objects'))) return true;
  rmSync(scratch, { recursive: true, force: true });
  return false;
}

/** Runs `sync -f PATH` (syncfs) without blocking; falls back to fsync of each file. */
function syncFs(path: string, files: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('sync', ['-f', path], { stdio: 'ignore' });
    const fallback = (): void => {
      Promise.all(files.map(async (f) => {
        const h = await open(f, 'r');
        try {
          await h.sync();
        } finally {
          await h.close();
        }
      })).then(() => resolve(), (e) => reject(ioError(e, 'fsync', path)));
    };
    child.on('error', fallback);
    child.on('exit', (code) => (code === 0 ? resolve() : fallback()));
  });
}

/** Bytes staged between two early flushes (see Flusher). */
const WRITEBACK_BYTES = 4 << 20;

/**
 * Flushes the file system of the scratch directory (which is the
 * repository's) through one helper process per pull: `sh` reading one line
 * per flush from a pipe and running `sync -f` on the directory for each, so
 * it ends when the pull closes the pipe or dies.
 *
 * It serves two purposes. While the pull goes on, each time
 * {@link WRITEBACK_BYTES} more have been staged and no flush is running, it
 * flushes early, so that the checkpoint's flush finds little left to write
 * (on the benchmark's update the last checkpoint went from about 190 to
 * 65-80 ms). And the checkpoints' flushes go through it too, instead of a
 * `sync` started for each: the helper is started when the first object is
 * staged, while the process is small (about 2.5 ms at 54 MB), and starting
 * a child from a pull's process near its end (about 180 MB) took 4-6 ms of
 * the main thread each time.
 *
 * Flushes run in the order asked, one at a time, so one that is asked for
 * after a write starts after it. If `sh` or `sync -f` is missing or fails,
 * the helper exits: early flushes stop, and {@link flush} rejects so that
 * the caller flushes another way. Durability never depends on the early
 * flushes.
 */
class Flusher {
  private child: ChildProcess | undefined;
  private stopped = false;
  private pending = 0;
  private asked = 0;
  private finished = 0;
  private readonly waiters: Array<{ ticket: number; resolve: () => void; reject: (e: Error) => void }> = [];
  /** Early flushes completed so far. */
  early = 0;
  private earlyTicket = 0;

  /** Flushes completed so far. */
  get flushes(): number {
    return this.finished;
  }

  constructor(private readonly dir: string) {}

  /** The helper, started on first use; undefined once it stopped or could not start. */
  private helper(): ChildProcess | undefined {
    if (this.child || this.stopped) return this.child;
    try {
      // The directory is an argument, not part of the script. The shell by its fixed path, not looked up in PATH.
      const child = spawn('/bin/sh', ['-c', 'while read -r _; do sync -f "$1" || exit 1; echo; done', 'canopy-flush', this.dir], { stdio: ['pipe', 'pipe', 'ignore'] });
      child.on('error', () => this.stop());
      child.on('exit', () => this.stop());
      child.stdin!.on('error', () => this.stop());
      // One newline per finished flush.
      child.stdout!.on('data', (d: Buffer) => this.done(d.length));
      // Only a flush being waited for keeps the process alive (the pipes are sockets).
      child.unref();
      (child.stdin as Socket).unref();
      (child.stdout as Socket).unref();
      this.child = child;
    } catch {
      // spawn throws at once for some errors (EAGAIN, EMFILE): the checkpoints flush another way.
      this.stop();
    }
    return this.child;
  }

  /** Counts bytes written to the scratch directory; asks for an early flush once enough have gathered. */
  add(bytes: number): void {
    this.pending += bytes;
    if (!this.helper() || this.finished < this.asked || this.pending < WRITEBACK_BYTES) return;
    this.pending = 0;
    this.earlyTicket = this.ask();
  }

  /** Resolves once a flush that started after this call has finished; rejects when the helper cannot do it. */
  flush(): Promise<void> {
    if (!this.helper()) return Promise.reject(new Error('no flush helper'));
    const ticket = this.ask();
    if (!this.child) return Promise.reject(new Error('no flush helper'));
    (this.child.stdout as Socket).ref();
    return new Promise((resolve, reject) => this.waiters.push({ ticket, resolve, reject }));
  }

  private ask(): number {
    try {
      this.child!.stdin!.write('\n');
    } catch {
      this.stop();
    }
    return ++this.asked;
  }

  private done(n: number): void {
    this.finished += n;
    if (this.earlyTicket && this.finished >= this.earlyTicket) {
      this.early++;
      this.earlyTicket = 0;
    }
    while (this.waiters.length && this.waiters[0].ticket <= this.finished) this.waiters.shift()!.resolve();
    if (this.waiters.length === 0) (this.child?.stdout as Socket | undefined)?.unref();
  }

  /** No more flushes: the helper ends after the one running, if any; whoever waits is told to flush another way. */
  stop(): void {
    this.stopped = true;
    const child = this.child;
    this.child = undefined;
    child?.stdin?.end();
    for (const w of this.waiters.splice(0)) w.reject(new Error('the flush helper stopped'));
  }
}

/** The objects in `dir` (a repository's objects/) as `<checksum>.<ext>`, listed on the thread pool. */
async function listObjectsDir(dir: string): Promise<Set<string>> {
  const prefixes = (await readdir(dir)).filter((p) => p.length === 2);
  const lists = await Promise.all(prefixes.map((p) => readdir(join(dir, p)).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOTDIR') return [] as string[];
    throw e;
  })));
  const index = new Set<string>();
  lists.forEach((names, i) => {
    for (const name of names) index.add(prefixes[i] + name);
  });
  return index;
}

/** The error for a job a store worker refused or could not write. */
function storeError(checksum: string, f: ObjectFailure, path: string): Error {
  if (f.kind === 'mismatch') return mismatch(checksum, f.actual);
  if (f.kind === 'invalid') return invalid(checksum, f.message);
  return ioError(Object.assign(new Error(f.message), { code: f.code, syscall: f.syscall, path }), 'write object', path);
}

interface Staged {
  /** Path inside the scratch directory. */
  readonly file: string;
  /** `objects/ab/cdef….ext`, relative to the repository. */
  readonly rel: string;
  /** The write finished (only then may it be moved). */
  done: boolean;
  /** A metadata object's bytes, kept until it is moved (the walk may need to read it). */
  bytes?: Uint8Array;
}

export class PullWriter implements PullObjectWriter {
  /** Staged objects by `<checksum>.<ext>`. */
  private readonly staged = new Map<string, Staged>();
  private readonly xattrQueue: Array<[string, readonly Xattr[]]> = [];
  private readonly subdirs = new Set<string>();
  private readonly inflight = new Set<Promise<void>>();
  /** Our uid and gid, asked once (each call is a system call, and a pull asks per object). */
  private readonly uid = process.getuid?.();
  private readonly gid = process.getgid?.();
  private readonly isRoot = this.uid === 0;
  private last: number;
  private running: Promise<void> | undefined;
  private failure: unknown;
  private closed = false;
  /** Objects moved into `objects/` so far. */
  written = 0;
  readonly scratch: string;
  readonly spoolDir: string;
  private readonly objectsDir: string;

  private readonly pool: ObjectPool | undefined;
  private readonly flusher: Flusher | undefined;
  private index: Set<string> | undefined;
  private listing: Promise<void> | undefined;
  /** Changes whenever objects/ changes under a listing in progress (see listObjects). */
  private generation = 0;

  /**
   * @param storeWorkers worker threads that verify and write fetched file
   *   objects ({@link storeFetched}); 0 does it all on this thread.
   */
  constructor(readonly repo: Repo, private readonly checkpointIntervalMs: number, private readonly now: () => number = Date.now, storeWorkers = 0) {
    this.pool = storeWorkers > 0 ? new ObjectPool(storeWorkers) : undefined;
    cleanStaleStaging(repo);
    this.scratch = join(repo.tmpDir, `staging-${process.pid}-pull-${randomBytes(6).toString('hex')}`);
    this.spoolDir = join(this.scratch, 'spool');
    this.objectsDir = join(this.scratch, 'objects');
    try {
      if (!claimSpare(join(repo.tmpDir, SPARE_STAGING), this.scratch)) {
        mkdirSync(this.spoolDir, { recursive: true });
        mkdirSync(this.objectsDir);
      }
    } catch (e) {
      throw ioError(e, 'create pull scratch directory', this.scratch);
    }
    this.flusher = repo.fsyncEnabled ? new Flusher(this.scratch) : undefined;
    this.last = now();
    this.listObjects();
  }

  /**
   * Starts the store workers now (a worker takes about 30 ms of CPU to
   * start): called when the pull begins, their start-up runs on another
   * core while the summary and the commit are fetched, instead of when the
   * first file object arrives, when every core is busy.
   */
  warm(): void {
    this.pool?.warm();
  }

  /** Flushes of the scratch directory run while the pull went on (see Flusher). */
  get earlyFlushes(): number {
    return this.flusher?.early ?? 0;
  }

  /** All flushes the helper made: the early ones and the checkpoints'. */
  get helperFlushes(): number {
    return this.flusher?.flushes ?? 0;
  }

  private key(checksum: string, type: ObjectType): string {
    return `${checksum}.${objectExtension(type, this.repo.mode)}`;
  }

  /**
   * Whether the object is staged by this pull or stored in `objects/`. The
   * answer comes from a listing of `objects/` made on the thread pool when
   * the writer is created, kept up to date with what this pull moves there:
   * one directory listing per prefix costs far less than a stat per object
   * when a pull walks a tree of thousands of files it mostly has. Until the
   * listing is ready (see {@link ready}), and after a {@link rescan}, an
   * object is looked up with a stat.
   */
  has(type: ObjectType, checksum: string): boolean {
    const key = this.key(checksum, type);
    if (this.staged.has(key)) return true;
    return this.index ? this.index.has(key) : this.repo.hasObject(checksum, type);
  }

  /** Forgets the listing of `objects/` (something else wrote there) and lists it again. */
  rescan(): void {
    this.index = undefined;
    this.generation++;
    this.listObjects();
  }

  /** Resolves once the listing of `objects/` in progress, if any, is done. */
  async ready(): Promise<void> {
    await this.listing;
  }

  /**
   * Lists `objects/` on the thread pool. A listing that this writer's own
   * checkpoint or a {@link rescan} overtook is dropped and made again; one
   * that fails is dropped (lookups stay stats).
   */
  private listObjects(): void {
    if (this.listing || this.closed) return;
    const gen = this.generation;
    this.listing = listObjectsDir(join(this.repo.path, 'objects')).then(
      (index) => {
        if (gen === this.generation) this.index = index;
      },
      () => undefined,
    ).finally(() => {
      this.listing = undefined;
      if (!this.index && gen !== this.generation) this.listObjects();
    });
  }

  /**
   * Stages a metadata object (the caller checked its hash and structure).
   * With store workers it returns once the object is queued for one.
   */
  async writeMetadata(type: ObjectType, checksum: string, bytes: Uint8Array): Promise<void> {
    if (this.has(type, checksum)) return;
    const zeroTime = this.repo.mode !== 'archive';
    const pool = this.pool;
    if (pool) {
      const path = this.stagingFile(checksum, type, false);
      const stored = pool.run({ checksum, filez: bytes, plain: true, path, mode: 0o644, zeroTime });
      // Not awaited (see PullObjectWriter): the walk goes on from the bytes kept here, and a failure shows in `failed` and finish().
      void this.stage(checksum, type, bytes.length, () => stored.then((failure) => {
        if (failure) throw storeError(checksum, failure, path);
      }), bytes, path).catch(() => undefined);
      return;
    }
    await this.stage(checksum, type, bytes.length, (p) => writeObjectFile(p, bytes, { mode: 0o644, zeroTime }), bytes);
  }

  /** The bytes of a metadata object staged here and not yet moved into `objects/`, if any. */
  stagedMetadata(type: ObjectType, checksum: string): Uint8Array | undefined {
    return this.staged.get(this.key(checksum, type))?.bytes;
  }

  /** Stages (or replaces) a commit's detached metadata. */
  async writeCommitMeta(commit: string, bytes: Uint8Array): Promise<void> {
    const key = this.key(commit, ObjectType.COMMIT_META);
    const old = this.staged.get(key);
    if (old && !old.done) throw new CanopyError('ERR_INVALID_ARGUMENT', `detached metadata of ${commit} is being written already`, { commit });
    this.staged.delete(key);
    if (old) rmSync(old.file, { force: true });
    await this.stage(commit, ObjectType.COMMIT_META, bytes.length, (p) => writeObjectFile(p, bytes, { mode: 0o644, zeroTime: this.repo.mode !== 'archive' }));
  }

  /** Stores a verified file object: a real file in bare repositories, compressed in archive ones. */
  async writeContent(checksum: string, header: FileHeader, content: Uint8Array): Promise<void> {
    if (this.has(ObjectType.FILE, checksum)) return;
    if (this.repo.mode === 'archive') {
      // A plain (local) source into an archive repository: compress as the commit writer does.
      const body = isLinkMode(header.mode) ? new Uint8Array(0) : await deflateRawAsync(content, { level: 6 });
      const bytes = Buffer.concat([archiveHeaderBytes(header, isLinkMode(header.mode) ? 0 : content.length), body]);
      await this.stage(checksum, ObjectType.FILE, bytes.length, (p) => writeObjectFile(p, bytes, { mode: 0o644 }));
      return;
    }
    await this.stage(checksum, ObjectType.FILE, content.length, async (p) => {
      if (isLinkMode(header.mode)) return this.makeSymlink(p, header);
      await writeObjectFile(p, content, { mode: header.mode & 0o7777, owner: this.ownerFor(header), zeroTime: true });
      if (this.repo.mode === 'bare' && header.xattrs.length) this.xattrQueue.push([p, header.xattrs]);
    });
  }

  /** True when {@link storeFetched} verifies and writes on worker threads. */
  get offloads(): boolean {
    return this.pool !== undefined;
  }

  /**
   * Verifies and stores a fetched `.filez` whose header the caller parsed
   * and found storable, on a worker thread: the content is inflated and
   * hashed there, and stored only when it hashes to `checksum` (bare: a
   * file with the header's content, mode, owner and mtime 0, or the
   * symbolic link; archive: the `.filez` as fetched). Throws
   * ERR_CHECKSUM_MISMATCH, ERR_OBJECT_INVALID, or the I/O codes of the write.
   */
  storeFetched(checksum: string, header: ArchiveFileHeader, filez: Uint8Array, dataOffset: number): Promise<void> {
    if (this.has(ObjectType.FILE, checksum)) return Promise.resolve();
    const pool = this.pool;
    if (!pool) return Promise.reject(new CanopyError('ERR_INVALID_ARGUMENT', 'this pull writer has no store workers', {}));
    const raw = this.repo.mode === 'archive';
    const link = isLinkMode(header.mode);
    const owner = raw ? undefined : this.ownerFor(header);
    const xattrs = this.repo.mode === 'bare' ? header.xattrs : [];
    // The pool copies the bytes now; no closure below refers to `filez`, so it is not kept alive while the job waits.
    const path = this.stagingFile(checksum, ObjectType.FILE, false);
    const stored = pool.run({
      checksum, filez, dataOffset, header: fileHeaderBytesOfArchive(filez, dataOffset), size: header.size, path, raw,
      symlinkTarget: link ? header.symlinkTarget : undefined,
      mode: raw ? 0o644 : header.mode & 0o7777, owner, zeroTime: !raw && !link,
    });
    return this.stage(checksum, ObjectType.FILE, raw ? filez.length : header.size, () => stored.then((failure) => {
      if (failure) throw storeError(checksum, failure, path);
      if (xattrs.length) this.xattrQueue.push([path, xattrs]);
    }), undefined, path);
  }

  /**
   * Hands a fetched object to {@link storeFetched} without waiting for it:
   * a failure is kept and thrown by {@link finish} (and shows in
   * {@link failed} at once). Waits only while more than
   * {@link MAX_STORE_BACKLOG} bytes are queued for the workers.
   */
  async handOver(checksum: string, header: ArchiveFileHeader, filez: Uint8Array, dataOffset: number): Promise<void> {
    void this.storeFetched(checksum, header, filez, dataOffset).catch(() => undefined);
    while (this.pool && this.pool.queuedBytes > MAX_STORE_BACKLOG && !this.failure) await Promise.race(this.inflight);
  }

  /** The first failure of a write that nobody awaited, if any. */
  get failed(): unknown {
    return this.failure;
  }

  /** Archive repositories: keeps a verified `.filez` as fetched. */
  async writeArchiveRaw(checksum: string, raw: Uint8Array): Promise<void> {
    if (this.has(ObjectType.FILE, checksum)) return;
    await this.stage(checksum, ObjectType.FILE, raw.length, (p) => writeObjectFile(p, raw, { mode: 0o644 }));
  }

  /** Archive repositories: adopts a verified spooled `.filez` (the file is moved). */
  async adoptArchiveFile(checksum: string, path: string): Promise<void> {
    if (this.has(ObjectType.FILE, checksum)) return;
    await this.stage(checksum, ObjectType.FILE, statSync(path, { throwIfNoEntry: false })?.size ?? 0, async (p) => renameSync(path, p));
  }

  /** Bare repositories: writes a verified spooled `.filez`'s content, inflating it again as a stream. */
  async writeFromArchiveFile(checksum: string, header: ArchiveFileHeader, path: string, dataOffset: number): Promise<void> {
    if (this.has(ObjectType.FILE, checksum)) return;
    await this.stage(checksum, ObjectType.FILE, header.size, async (p) => {
      if (isLinkMode(header.mode)) return this.makeSymlink(p, header);
      await pipeline(createReadStream(path, { start: dataOffset, highWaterMark: 1 << 20 }), createInflateRaw(), createWriteStream(p, { mode: header.mode & 0o7777, flags: 'wx' }));
      const perm = header.mode & 0o7777;
      const owner = this.ownerFor(header);
      if (owner) await chown(p, owner.uid, owner.gid);
      await chmod(p, perm);
      await utimes(p, 0, 0);
      if (this.repo.mode === 'bare' && header.xattrs.length) this.xattrQueue.push([p, header.xattrs]);
    });
  }

  /** A symbolic link with the header's owner and, in a bare repository, its xattrs (as the store workers make them). */
  private async makeSymlink(p: string, header: FileHeader): Promise<void> {
    await symlink(header.symlinkTarget, p);
    const owner = this.ownerFor(header);
    if (owner) await lchown(p, owner.uid, owner.gid);
    if (this.repo.mode === 'bare' && header.xattrs.length) this.xattrQueue.push([p, header.xattrs]);
  }

  private ownerFor(h: FileHeader): { uid: number; gid: number } | undefined {
    if (this.repo.mode !== 'bare') return undefined;
    if (h.uid === this.uid && h.gid === this.gid) return undefined;
    if (!this.isRoot) {
      throw new CanopyError('ERR_PERMISSION', `a bare repository stores file ownership (uid ${h.uid}, gid ${h.gid}); that needs root. Use a bare-user-only repository instead`, { uid: h.uid, gid: h.gid });
    }
    return { uid: h.uid, gid: h.gid };
  }

  /**
   * Where an object is staged; one directory per leading byte, as in
   * objects/ (thousands of files in one directory contend on its lock).
   * Made here unless a store worker writes the file (it makes a missing one).
   */
  private stagingFile(checksum: string, type: ObjectType, makeDir = true): string {
    const sub = `${this.objectsDir}/${checksum.slice(0, 2)}`;
    if (makeDir && !this.subdirs.has(sub)) {
      mkdirSync(sub, { recursive: true });
      this.subdirs.add(sub);
    }
    return `${sub}/${this.key(checksum, type)}`;
  }

  /** Writes one staged object; a failed write leaves nothing staged. */
  private stage(checksum: string, type: ObjectType, size: number, write: (path: string) => Promise<void>, bytes?: Uint8Array, file = this.stagingFile(checksum, type)): Promise<void> {
    const key = this.key(checksum, type);
    const s: Staged = { file, rel: objectRelPath(checksum, type, this.repo.mode), done: false, bytes };
    this.staged.set(key, s);
    const p = write(s.file).then(
      () => {
        s.done = true;
        this.flusher?.add(size);
      },
      (e) => {
        this.staged.delete(key);
        rmSync(s.file, { force: true });
        const err = e instanceof CanopyError ? e : ioError(e, 'write object', s.file);
        // Also kept for finish(): a caller that did not await (a delta applier) must not lose it.
        this.failure ??= err;
        throw err;
      },
    );
    this.inflight.add(p);
    void p.catch(() => undefined).finally(() => this.inflight.delete(p));
    return p;
  }

  /** Starts a background checkpoint when the interval has passed and none is running. */
  maybeCheckpoint(): void {
    if (this.now() - this.last >= this.checkpointIntervalMs) this.startCheckpoint();
  }

  private startCheckpoint(): void {
    if (this.running || this.closed) return;
    this.last = this.now();
    this.running = this.checkpoint(false).catch((e) => {
      this.failure ??= e;
    }).finally(() => {
      this.running = undefined;
    });
  }

  /** Flushes the completed staged objects and moves them into `objects/`; with `final`, flushes the renames too. */
  private async checkpoint(final: boolean): Promise<void> {
    const ready = [...this.staged.entries()].filter(([, s]) => s.done);
    if (ready.length === 0) return;
    const xattrs = this.xattrQueue.splice(0);
    if (xattrs.length) applyXattrs(xattrs);
    const fsync = this.repo.fsyncEnabled;
    if (fsync) await this.flushFs(ready.map(([, s]) => s.file));
    const dirs = new Set<string>();
    this.generation++;
    for (const [key, s] of ready) {
      const dest = join(this.repo.path, s.rel);
      const dir = dest.slice(0, dest.lastIndexOf('/'));
      if (!dirs.has(dir) && !existsSync(dir)) mkdirSync(dir, { recursive: true });
      dirs.add(dir);
      try {
        renameSync(s.file, dest);
      } catch (e) {
        throw ioError(e, 'move object into place', dest);
      }
      this.staged.delete(key);
      this.index?.add(key);
      this.written++;
    }
    if (fsync && final) await this.flushFs([...dirs]);
  }

  /** Flushes the file system through the helper; without one, with `sync -f` or an fsync of each of `paths`. */
  private async flushFs(paths: readonly string[]): Promise<void> {
    try {
      if (this.flusher) return await this.flusher.flush();
    } catch {
      // The helper is gone: flush another way.
    }
    await syncFs(this.scratch, paths);
  }

  /**
   * Waits for the writes and any background checkpoint, then checkpoints
   * everything (durably) and removes the scratch directory. While writes
   * are still running (a store worker's backlog), what is already written
   * is flushed and moved first, so those renames overlap the writes
   * instead of following them.
   */
  async finish(): Promise<void> {
    if (this.inflight.size > 0) this.startCheckpoint();
    await Promise.allSettled([...this.inflight]);
    await this.running;
    if (this.failure) throw this.failure;
    await this.checkpoint(true);
    this.close(true);
  }

  /** Drops what is staged but not yet checkpointed (after any running checkpoint). */
  async abort(): Promise<void> {
    await Promise.allSettled([...this.inflight]);
    await this.running;
    this.close();
  }

  /** Ends the writer; `clean` (after a successful finish) parks the emptied scratch tree as the spare instead of removing it. */
  private close(clean = false): void {
    if (this.closed) return;
    this.closed = true;
    this.flusher?.stop();
    void this.pool?.close();
    if (clean && this.staged.size === 0 && this.inflight.size === 0 && this.park()) return;
    this.staged.clear();
    rmSync(this.scratch, { recursive: true, force: true });
  }

  /** Renames the scratch tree to the spare when its spool is empty and no spare exists yet. */
  private park(): boolean {
    try {
      if (readdirSync(this.spoolDir).length > 0) return false;
      renameSync(this.scratch, join(this.repo.tmpDir, SPARE_STAGING));
      return true;
    } catch {
      return false;
    }
  }
}
