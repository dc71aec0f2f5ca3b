/**
 * Storing what a pull verified. Metadata goes through the repository's
 * {@link Transaction}. File objects are staged by this writer in the pull's
 * own scratch directory (`tmp/staging-<pid>-pull-…`, removed like any dead
 * staging directory), with asynchronous file-system calls: creating
 * thousands of files is mostly kernel time, and doing it on the thread pool
 * keeps the main thread fetching, inflating and hashing meanwhile (the
 * synchronous writes of the Transaction made a pull of a Debian root
 * file system about a third slower). An archive repository keeps fetched
 * `.filez` objects exactly as they came (after verification); bare
 * repositories get real files with the header's mode (and, in `bare`, owner
 * and xattrs, applied in one `setfattr` batch). Staged files are renamed
 * into `objects/` at each checkpoint. The scratch directory also holds
 * bodies spooled to disk.
 *
 * Checkpoints: every `checkpointIntervalMs` the staged objects are made
 * durable and moved into `objects/` and a new transaction starts, so a pull
 * killed with SIGKILL loses at most one interval of work. This is safe
 * because the commit is marked partial (`state/<c>.commitpartial`) until
 * its whole tree is stored, and refs move only at the very end.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, createReadStream, existsSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync } from 'node:fs';
import { chmod, chown, lchown, symlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInflateRaw } from 'node:zlib';
import { CanopyError, ioError } from '../core/errors';
import { isLinkMode, ObjectType, objectRelPath, type FileHeader, type Xattr } from '../objects/index';
import { applyXattrs, fsyncDir, syncFilesystem, Transaction, type Repo } from '../repo/index';
import type { PullObjectWriter } from './types';

const UMASK = process.umask();

export class PullWriter implements PullObjectWriter {
  private tx: Transaction;
  /** File objects staged by this writer: checksum -> staged path. */
  private readonly raw = new Map<string, string>();
  private readonly xattrQueue: Array<[string, readonly Xattr[]]> = [];
  private readonly isRoot = process.getuid?.() === 0;
  private busy = 0;
  private last: number;
  private closed = false;
  /** Objects moved into `objects/` so far. */
  written = 0;
  readonly scratch: string;
  readonly spoolDir: string;

  constructor(readonly repo: Repo, private readonly checkpointIntervalMs: number, private readonly now: () => number = Date.now) {
    this.tx = new Transaction(repo);
    this.scratch = join(repo.tmpDir, `staging-${process.pid}-pull-${randomBytes(6).toString('hex')}`);
    this.spoolDir = join(this.scratch, 'spool');
    try {
      mkdirSync(this.spoolDir, { recursive: true });
      mkdirSync(join(this.scratch, 'objects'));
    } catch (e) {
      throw ioError(e, 'create pull scratch directory', this.scratch);
    }
    this.last = now();
  }

  has(type: ObjectType, checksum: string): boolean {
    if (type === ObjectType.FILE && this.raw.has(checksum)) return true;
    return this.tx.has(checksum, type);
  }

  writeMetadata(type: ObjectType, _checksum: string, bytes: Uint8Array): void {
    this.tx.writeMetadata(type, bytes);
  }

  writeCommitMeta(commit: string, bytes: Uint8Array): void {
    this.tx.writeCommitMeta(commit, bytes);
  }

  /** Stores a verified file object: a real file in bare repositories, compressed in archive ones. */
  async writeContent(checksum: string, header: FileHeader, content: Uint8Array): Promise<void> {
    if (this.repo.mode === 'archive') {
      this.busy++;
      try {
        await this.tx.writeFileObject(checksum, header, content);
      } finally {
        this.busy--;
      }
      return;
    }
    await this.stage(checksum, async (p) => {
      const owner = this.ownerFor(header);
      if (isLinkMode(header.mode)) {
        await symlink(header.symlinkTarget, p);
        if (owner) await lchown(p, owner.uid, owner.gid);
      } else {
        const perm = header.mode & 0o7777;
        await writeFile(p, content, { mode: perm, flag: 'wx' });
        if (owner) await chown(p, owner.uid, owner.gid);
        // open() applies the umask, and chown clears setuid/setgid bits.
        if ((perm & UMASK) !== 0 || (owner && (perm & 0o6000) !== 0)) await chmod(p, perm);
        await utimes(p, 0, 0);
      }
      if (this.repo.mode === 'bare' && header.xattrs.length) this.xattrQueue.push([p, header.xattrs]);
    });
  }

  /** Archive repositories: keeps a verified `.filez` as fetched. */
  async writeArchiveRaw(checksum: string, raw: Uint8Array): Promise<void> {
    await this.stage(checksum, (p) => writeFile(p, raw, { mode: 0o644, flag: 'wx' }));
  }

  /** Writes one staged file; a failed write leaves nothing staged. */
  private async stage(checksum: string, write: (path: string) => Promise<void>): Promise<void> {
    if (this.has(ObjectType.FILE, checksum)) return;
    const p = join(this.scratch, 'objects', `${checksum}.${this.repo.mode === 'archive' ? 'filez' : 'file'}`);
    this.raw.set(checksum, p);
    this.busy++;
    try {
      await write(p);
    } catch (e) {
      this.raw.delete(checksum);
      rmSync(p, { force: true });
      throw ioError(e, 'write object', p);
    } finally {
      this.busy--;
    }
  }

  private ownerFor(h: FileHeader): { uid: number; gid: number } | undefined {
    if (this.repo.mode !== 'bare') return undefined;
    if (h.uid === process.getuid?.() && h.gid === process.getgid?.()) return undefined;
    if (!this.isRoot) {
      throw new CanopyError('ERR_PERMISSION', `a bare repository stores file ownership (uid ${h.uid}, gid ${h.gid}); that needs root. Use a bare-user-only repository instead`, { uid: h.uid, gid: h.gid });
    }
    return { uid: h.uid, gid: h.gid };
  }

  /** Archive repositories: adopts a verified spooled `.filez` (the file is moved). */
  adoptArchiveFile(checksum: string, path: string): void {
    if (this.has(ObjectType.FILE, checksum)) {
      rmSync(path, { force: true });
      return;
    }
    const p = join(this.scratch, 'objects', `${checksum}.filez`);
    renameSync(path, p);
    this.raw.set(checksum, p);
  }

  /** Bare repositories: writes a verified spooled `.filez`'s content, inflating it again as a stream. */
  async writeFromArchiveFile(checksum: string, header: FileHeader, size: number, path: string, dataOffset: number): Promise<void> {
    this.busy++;
    try {
      const content = createReadStream(path, { start: dataOffset, highWaterMark: 1 << 20 }).pipe(createInflateRaw());
      await this.tx.writeFileObjectStream(checksum, header, size, content);
    } finally {
      this.busy--;
    }
  }

  /** Checkpoints when the interval has passed and no write is in flight. */
  maybeCheckpoint(): void {
    if (this.busy === 0 && this.now() - this.last >= this.checkpointIntervalMs) this.checkpoint();
  }

  /** Makes everything staged durable and moves it into `objects/`. */
  checkpoint(): void {
    const fsync = this.repo.fsyncEnabled;
    if (this.xattrQueue.length) applyXattrs(this.xattrQueue.splice(0));
    if (this.raw.size > 0) {
      if (fsync && !syncFilesystem(this.scratch)) {
        for (const p of this.raw.values()) fsyncFile(p);
      }
      const dirs = new Set<string>();
      for (const [checksum, p] of this.raw) {
        const dest = join(this.repo.path, objectRelPath(checksum, ObjectType.FILE, this.repo.mode));
        const dir = dest.slice(0, dest.lastIndexOf('/'));
        if (!dirs.has(dir) && !existsSync(dir)) mkdirSync(dir, { recursive: true });
        dirs.add(dir);
        try {
          renameSync(p, dest);
        } catch (e) {
          throw ioError(e, 'move object into place', dest);
        }
      }
      this.written += this.raw.size;
      this.raw.clear();
      if (fsync && this.tx.stagedCount === 0 && !syncFilesystem(this.repo.path)) for (const d of dirs) fsyncDir(d);
    }
    this.written += this.tx.commit();
    this.tx = new Transaction(this.repo);
    this.last = this.now();
  }

  /** Final checkpoint; removes the scratch directory. */
  finish(): void {
    this.checkpoint();
    this.close();
  }

  /** Drops what is staged but not yet checkpointed. */
  abort(): void {
    this.tx.abort();
    this.close();
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    this.tx.abort();
    rmSync(this.scratch, { recursive: true, force: true });
  }
}

function fsyncFile(p: string): void {
  const fd = openSync(p, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
