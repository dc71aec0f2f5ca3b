/**
 * Writing objects. Every object is written into a private staging directory
 * under `tmp/`, named by the checksum computed while it was written. On
 * {@link Transaction.commit} the staged files are made durable (one syncfs),
 * renamed into `objects/`, and the renames made durable; only then may a
 * caller move a ref. A process killed at any point leaves `objects/` holding
 * only complete objects; the next transaction removes dead staging dirs.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  closeSync, existsSync, fchmodSync, fchownSync, fsyncSync, futimesSync, mkdirSync, openSync, readdirSync,
  renameSync, rmSync, symlinkSync, lchownSync, writeSync, createWriteStream,
} from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createDeflateRaw, deflateRaw } from 'node:zlib';
import { promisify } from 'node:util';
import { sha256Hex } from '../core/bytes';
import { CanopyError, ioError } from '../core/errors';
import { ObjectType, archiveHeaderBytes, isLinkMode, objectExtension, type FileHeader, type Xattr } from '../objects/index';
import type { Repo } from './repo';
import { fsyncDir } from './refs';
import { applyXattrs } from './xattr-io';

const deflateRawAsync = promisify(deflateRaw);

/** Staging directories are named after the owning process. */
const STAGING_PREFIX = 'staging-';

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes staging directories left by processes that no longer run. */
export function cleanStaleStaging(repo: Repo): number {
  let n = 0;
  let names: string[] = [];
  try {
    names = readdirSync(repo.tmpDir);
  } catch {
    return 0;
  }
  for (const name of names) {
    if (!name.startsWith(STAGING_PREFIX)) continue;
    const pid = Number(name.slice(STAGING_PREFIX.length).split('-')[0]);
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && pidAlive(pid)) continue;
    if (pid === process.pid) continue;
    rmSync(join(repo.tmpDir, name), { recursive: true, force: true });
    n++;
  }
  return n;
}

/** Flushes every file system write under `path` (syncfs), or returns false. */
export function syncFilesystem(path: string): boolean {
  const r = spawnSync('sync', ['-f', path]);
  return !r.error && r.status === 0;
}

interface Staged {
  rel: string; // objects/xx/yyy.ext
  file: string; // absolute staging path
}

export interface WriteStats {
  /** Objects written by this transaction. */
  written: number;
  /** Bytes of object files written. */
  bytesWritten: number;
}

export class Transaction {
  readonly dir: string;
  private readonly staged = new Map<string, Staged>();
  private readonly xattrQueue: Array<[string, readonly Xattr[]]> = [];
  private readonly isRoot = process.getuid?.() === 0;
  private done = false;
  readonly stats: WriteStats = { written: 0, bytesWritten: 0 };
  /** Compression level for archive `.filez` objects (ostree uses 6). */
  compressionLevel = 6;

  constructor(readonly repo: Repo) {
    cleanStaleStaging(repo);
    this.dir = join(repo.tmpDir, `${STAGING_PREFIX}${process.pid}-${randomBytes(6).toString('hex')}`);
    try {
      mkdirSync(this.dir, { recursive: true });
    } catch (e) {
      throw ioError(e, 'create staging directory', this.dir);
    }
  }

  /** True when the object exists in the repository or is staged here. */
  has(checksum: string, type: ObjectType): boolean {
    const rel = `${checksum}.${objectExtension(type, this.repo.mode)}`;
    return this.staged.has(rel) || this.repo.hasObject(checksum, type);
  }

  private stage(checksum: string, type: ObjectType): { file: string; key: string } | undefined {
    if (this.done) throw new CanopyError('ERR_INVALID_ARGUMENT', 'transaction already finished');
    const ext = objectExtension(type, this.repo.mode);
    const key = `${checksum}.${ext}`;
    if (this.staged.has(key) || this.repo.hasObject(checksum, type)) return undefined;
    const file = join(this.dir, key);
    this.staged.set(key, { rel: `objects/${checksum.slice(0, 2)}/${checksum.slice(2)}.${ext}`, file });
    return { file, key };
  }

  /** Writes a metadata object; returns its checksum. */
  writeMetadata(type: ObjectType, data: Uint8Array): string {
    const checksum = sha256Hex(data);
    const s = this.stage(checksum, type);
    if (s) this.writeFile(s.file, [data], 0o644);
    return checksum;
  }

  /** Writes (or replaces) the detached metadata of a commit. */
  writeCommitMeta(commit: string, data: Uint8Array): void {
    const key = `${commit}.commitmeta`;
    const file = join(this.dir, key);
    this.staged.set(key, { rel: `objects/${commit.slice(0, 2)}/${commit.slice(2)}.commitmeta`, file });
    this.writeFile(file, [data], 0o644);
  }

  private writeFile(file: string, chunks: Uint8Array[], mode: number, owner?: { uid: number; gid: number }): void {
    let fd: number;
    try {
      fd = openSync(file, 'w', mode);
    } catch (e) {
      throw ioError(e, 'create', file);
    }
    try {
      for (const c of chunks) {
        let off = 0;
        while (off < c.length) off += writeSync(fd, c, off, c.length - off);
        this.stats.bytesWritten += c.length;
      }
      if (owner) fchownSync(fd, owner.uid, owner.gid);
      fchmodSync(fd, mode);
      if (this.repo.mode !== 'archive') futimesSync(fd, 0, 0);
    } catch (e) {
      throw ioError(e, 'write', file);
    } finally {
      closeSync(fd);
    }
    this.stats.written++;
  }

  /**
   * Stages a file object whose checksum the caller computed over `header`
   * and `content`. Archive repos compress on the libuv pool (so callers can
   * keep several in flight); bare repos write the content as a real file.
   */
  async writeFileObject(checksum: string, header: FileHeader, content: Uint8Array): Promise<void> {
    const s = this.stage(checksum, ObjectType.FILE);
    if (!s) return;
    const mode = this.repo.mode;
    if (mode === 'archive') {
      const body = isLinkMode(header.mode) ? new Uint8Array(0) : await deflateRawAsync(content, { level: this.compressionLevel });
      this.writeFile(s.file, [archiveHeaderBytes(header, isLinkMode(header.mode) ? 0 : content.length), body], 0o644);
      return;
    }
    this.writeBare(s.file, header, () => this.writeFile(s.file, [content], header.mode & 0o7777, this.ownerFor(header)));
  }

  /**
   * Stages a large regular file from a readable stream of its content
   * (already hashed by the caller, who guarantees the bytes are the same).
   */
  async writeFileObjectStream(checksum: string, header: FileHeader, size: number, content: NodeJS.ReadableStream): Promise<void> {
    const s = this.stage(checksum, ObjectType.FILE);
    if (!s) {
      (content as unknown as { destroy?: () => void }).destroy?.();
      return;
    }
    const perm = this.repo.mode === 'archive' ? 0o644 : header.mode & 0o7777;
    const out = createWriteStream(s.file, { mode: perm });
    if (this.repo.mode === 'archive') {
      out.write(archiveHeaderBytes(header, size));
      await pipeline(content, createDeflateRaw({ level: this.compressionLevel }), out);
    } else {
      await pipeline(content, out);
    }
    this.stats.written++;
    this.stats.bytesWritten += size;
    const fd = openSync(s.file, 'r+');
    try {
      const owner = this.repo.mode === 'archive' ? undefined : this.ownerFor(header);
      if (owner) fchownSync(fd, owner.uid, owner.gid);
      fchmodSync(fd, perm);
      if (this.repo.mode !== 'archive') futimesSync(fd, 0, 0);
    } finally {
      closeSync(fd);
    }
    if (this.repo.mode === 'bare' && header.xattrs.length) this.xattrQueue.push([s.file, header.xattrs]);
  }

  private ownerFor(h: FileHeader): { uid: number; gid: number } | undefined {
    if (this.repo.mode !== 'bare') return undefined;
    if (!this.isRoot && (h.uid !== process.getuid!() || h.gid !== process.getgid!())) {
      throw new CanopyError('ERR_PERMISSION', `a bare repository stores file ownership (uid ${h.uid}, gid ${h.gid}); that needs root. Use a bare-user-only repository instead`, { uid: h.uid, gid: h.gid });
    }
    return { uid: h.uid, gid: h.gid };
  }

  private writeBare(file: string, header: FileHeader, writeRegular: () => void): void {
    if (isLinkMode(header.mode)) {
      try {
        symlinkSync(header.symlinkTarget, file);
        const owner = this.ownerFor(header);
        if (owner) lchownSync(file, owner.uid, owner.gid);
      } catch (e) {
        throw ioError(e, 'create symlink', file);
      }
      this.stats.written++;
    } else {
      writeRegular();
    }
    if (this.repo.mode === 'bare' && header.xattrs.length) this.xattrQueue.push([file, header.xattrs]);
  }

  /** Number of objects staged so far. */
  get stagedCount(): number {
    return this.staged.size;
  }

  /**
   * Makes every staged object durable and moves it into `objects/`.
   * Returns how many objects were added.
   */
  commit(): number {
    if (this.done) throw new CanopyError('ERR_INVALID_ARGUMENT', 'transaction already finished');
    if (this.xattrQueue.length) applyXattrs(this.xattrQueue.splice(0));
    const fsync = this.repo.fsyncEnabled;
    if (fsync && this.staged.size && !syncFilesystem(this.dir)) this.fsyncEach();
    const made = new Set<string>();
    for (const s of this.staged.values()) {
      const dest = join(this.repo.path, s.rel);
      const dir = dest.slice(0, dest.lastIndexOf('/'));
      if (!made.has(dir)) {
        if (!existsSync(dir)) mkdirSync(dir, { recursive: true });
        made.add(dir);
      }
      try {
        renameSync(s.file, dest);
      } catch (e) {
        throw ioError(e, 'move object into place', dest);
      }
    }
    if (fsync && made.size) {
      if (!syncFilesystem(this.repo.path)) for (const d of made) fsyncDir(d);
    }
    const n = this.staged.size;
    this.finish();
    return n;
  }

  private fsyncEach(): void {
    for (const s of this.staged.values()) {
      const fd = openSync(s.file, 'r');
      try {
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    }
  }

  /** Drops everything staged. Safe to call more than once. */
  abort(): void {
    this.finish();
  }

  private finish(): void {
    this.done = true;
    this.staged.clear();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
