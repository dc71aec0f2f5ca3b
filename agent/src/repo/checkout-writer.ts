/**
 * The write half of a checkout: lays a {@link PlanDir} out on disk.
 *
 * - Directories are made 0700 and get their owner, mode and mtime (0, as
 *   ostree sets it) only after their children are written, so a 0555
 *   directory can still be filled. Directories that already existed (union)
 *   keep their owner, mode and attributes.
 * - Regular files and symlinks are hardlinked from bare objects when
 *   allowed, else copied: created with O_EXCL|O_NOFOLLOW, filled, then
 *   fchown (unless user mode) and fchmod on the same descriptor.
 * - Extended attributes of copies and new directories are queued and
 *   applied with one `setfattr --restore` batch at the end, after every
 *   chown (which would clear `security.capability`). Hardlinks carry the
 *   object's own attributes.
 *
 * Nothing is ever written through an existing symlink: new entries are
 * created exclusively (open O_EXCL, link, symlink and mkdir never follow a
 * final symlink); a union replaces an existing file by renaming a new one
 * over it; an existing symlink where the commit has a directory is refused.
 * The file system is used synchronously: for many small files that is much
 * faster than promises in Node. The event loop gets a turn every 1024 files.
 */
import {
  closeSync, constants, fchmodSync, fchownSync, futimesSync, lchownSync, linkSync, lstatSync, mkdirSync, openSync,
  readFileSync, readlinkSync, readSync, rmSync, symlinkSync, type Stats,
} from 'node:fs';
import { join } from 'node:path';
import { CanopyError, ioError } from '../core/errors';
import { isLinkMode, type DirMeta, type DirTreeFile, type Xattr } from '../objects/index';
import { inflateArchiveTo, readArchiveObject, writeAll } from './checkout-archive';
import { EntryPlacer, type Overwrite } from './checkout-place';
import type { PlanDir } from './checkout-plan';
import type { Repo } from './repo';
import { applyXattrs, readXattrsOf } from './xattr-io';

export interface CheckoutStats {
  /** Regular files in the checkout (written or kept). */
  files: number;
  /** Directories created or entered. */
  dirs: number;
  /** Symlinks in the checkout (written or kept). */
  symlinks: number;
  /** Files and symlinks hardlinked from the repository. */
  hardlinked: number;
  /** Files and symlinks written as new copies. */
  copied: number;
  /** Existing files a `unionAdd` checkout left in place. */
  kept: number;
}

export interface CheckoutProgress {
  filesDone: number;
  filesTotal?: number;
}

export interface WriterOptions {
  readonly overwrite: Overwrite;
  /** No chown, no xattrs, setuid/setgid stripped, unreadable files made owner-readable. */
  readonly userMode: boolean;
  /** Hardlink eligible objects, and whether failing to is an error. */
  readonly hardlinks: 'never' | 'auto' | 'require';
  /** Apply the xattrs of directories and copied files. */
  readonly xattrs: boolean;
  /** Set new directories' mtime to 0 (ostree does unless copying). */
  readonly setDirMtime: boolean;
  readonly filesTotal: number;
  readonly onProgress?: (p: CheckoutProgress) => void;
}

const O_NEW_FILE = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
const O_DIR = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW;
/** Bare files up to this size are copied with one read. */
const WHOLE_COPY_MAX = 8 << 20;

const errno = (e: unknown): string | undefined => (e as NodeJS.ErrnoException)?.code;
const yieldToLoop = (): Promise<void> => new Promise((r) => setImmediate(r));

interface Owner { readonly uid: number; readonly gid: number }

export class CheckoutWriter {
  readonly stats: CheckoutStats = { files: 0, dirs: 0, symlinks: 0, hardlinked: 0, copied: 0, kept: 0 };
  /** True once this checkout made the top directory (so a failure may remove it). */
  createdTop = false;
  private readonly objectsDir: string;
  private linkFiles: boolean;
  private readonly linkSymlinks: boolean;
  private readonly objectXattrs: boolean;
  private readonly dirModeMask: number;
  private readonly xattrQueue: Array<[string, readonly Xattr[]]> = [];
  /** Copies from a bare repo: [destination, object] whose xattrs are read in one batch. */
  private readonly xattrFromObjects: Array<[string, string]> = [];
  private readonly placer: EntryPlacer;
  private filesDone = 0;
  private lastTurn = 0;

  constructor(private readonly repo: Repo, private readonly opts: WriterOptions) {
    this.objectsDir = join(repo.path, 'objects');
    this.linkFiles = opts.hardlinks !== 'never';
    // ostree hardlinks symlinks from bare repos only; bare-user-only ones are copied.
    this.linkSymlinks = repo.mode === 'bare';
    this.objectXattrs = repo.mode === 'bare' && opts.xattrs && !opts.userMode;
    this.dirModeMask = repo.mode === 'bare-user-only' ? 0o775 : 0o7777;
    this.placer = new EntryPlacer(opts.overwrite);
  }

  /** True once anything was created or entered. */
  get touched(): boolean {
    return this.stats.dirs > 0 || this.filesDone > 0;
  }

  /** Checks out `dir` as the directory `dest`. */
  async writeTree(dest: string, dir: PlanDir): Promise<void> {
    await this.writeDir(dest, dir, true);
    this.report();
  }

  /** Checks out one file into the directory `destDir` (made 0700 if missing, as ostree does). */
  async writeSingleFile(destDir: string, file: DirTreeFile): Promise<void> {
    try {
      mkdirSync(destDir, 0o700);
      this.createdTop = true;
    } catch (e) {
      if (errno(e) !== 'EEXIST') throw ioError(e, 'create directory', destDir);
      this.checkExistingDir(destDir);
    }
    const p = this.writeFile(destDir, file);
    if (p) await p;
    this.report();
  }

  /** Applies the queued extended attributes (one getfattr and one setfattr batch). */
  finish(): void {
    if (this.xattrFromObjects.length > 0) {
      const found = readXattrsOf([...new Set(this.xattrFromObjects.map(([, obj]) => obj))]);
      for (const [dest, obj] of this.xattrFromObjects) {
        const x = found.get(obj);
        if (x) this.xattrQueue.push([dest, x]);
      }
    }
    if (this.xattrQueue.length > 0) applyXattrs(this.xattrQueue);
  }

  private report(): void {
    this.opts.onProgress?.({ filesDone: this.filesDone, filesTotal: this.opts.filesTotal });
  }

  private async writeDir(path: string, dir: PlanDir, top: boolean): Promise<void> {
    const created = this.makeDir(path, top);
    if (top) this.createdTop = created;
    this.stats.dirs++;
    for (const f of dir.files) {
      const p = this.writeFile(path, f);
      if (p) await p;
      if (this.filesDone - this.lastTurn >= 1024) {
        this.lastTurn = this.filesDone;
        this.report();
        await yieldToLoop();
      }
    }
    for (const d of dir.dirs) await this.writeDir(path + '/' + d.name, d, false);
    if (created) this.finishDir(path, dir.meta);
  }

  /** Makes a directory 0700; returns false when a union found it already there. */
  private makeDir(path: string, top: boolean): boolean {
    try {
      mkdirSync(path, 0o700);
      return true;
    } catch (e) {
      if (errno(e) !== 'EEXIST') throw ioError(e, 'create directory', path);
    }
    if (this.opts.overwrite === 'none') {
      throw new CanopyError('ERR_CHECKOUT_EXISTS', top
        ? `${path} already exists (a checkout into an existing directory needs union or unionAdd)`
        : `${path} already exists`, { path });
    }
    this.checkExistingDir(path);
    return false;
  }

  /** An existing entry must be a real directory: never a symlink to one. */
  private checkExistingDir(path: string): void {
    let st: Stats;
    try {
      st = lstatSync(path);
    } catch (e) {
      throw ioError(e, 'stat', path);
    }
    if (st.isDirectory()) return;
    if (st.isSymbolicLink()) {
      throw new CanopyError('ERR_UNSAFE_PATH', `${path} is a symbolic link where the checkout needs a directory; refusing to follow it (remove it, or check out into a clean directory)`, { path });
    }
    throw new CanopyError('ERR_CHECKOUT_CONFLICT', `${path} exists and is not a directory, but the checkout needs a directory there`, { path });
  }

  private finishDir(path: string, meta: DirMeta): void {
    let fd: number;
    try {
      fd = openSync(path, O_DIR);
    } catch (e) {
      throw ioError(e, 'open directory', path);
    }
    try {
      if (!this.opts.userMode) this.chown(fd, meta, path);
      fchmodSync(fd, meta.mode & 0o7777 & this.dirModeMask);
      if (this.opts.setDirMtime) futimesSync(fd, 0, 0);
    } catch (e) {
      throw ioError(e, 'set mode of directory', path);
    } finally {
      closeSync(fd);
    }
    if (this.opts.xattrs && !this.opts.userMode && meta.xattrs.length > 0) this.xattrQueue.push([path, meta.xattrs]);
  }

  private chown(fd: number, owner: Owner, path: string): void {
    try {
      fchownSync(fd, owner.uid, owner.gid);
    } catch (e) {
      if (errno(e) === 'EPERM') {
        throw new CanopyError('ERR_PERMISSION', `cannot give ${path} owner ${owner.uid}:${owner.gid}: that needs root (use userMode to keep the caller as owner)`, { path, uid: owner.uid, gid: owner.gid }, { cause: e });
      }
      throw e;
    }
  }

  /** Writes one file or symlink; returns a promise only for content that is streamed. */
  private writeFile(dirPath: string, f: DirTreeFile): Promise<void> | void {
    this.filesDone++;
    const c = f.checksum;
    if (this.repo.mode === 'archive') return this.writeFromArchive(dirPath, f.name, `${this.objectsDir}/${c.slice(0, 2)}/${c.slice(2)}.filez`, c);
    this.writeFromBare(dirPath, f.name, `${this.objectsDir}/${c.slice(0, 2)}/${c.slice(2)}.file`, c);
  }

  private writeFromBare(dirPath: string, name: string, obj: string, checksum: string): void {
    let st: Stats | undefined;
    try {
      st = lstatSync(obj, { throwIfNoEntry: false });
    } catch (e) {
      throw ioError(e, 'stat', obj);
    }
    if (!st) throw new CanopyError('ERR_OBJECT_NOT_FOUND', `file object ${checksum} (for ${dirPath}/${name}) is not in ${this.repo.path}`, { checksum, path: `${dirPath}/${name}` });
    const dest = dirPath + '/' + name;
    if (st.isSymbolicLink()) {
      this.stats.symlinks++;
      if (this.linkFiles && this.linkSymlinks && this.tryLink(obj, st, dirPath, name)) return;
      const target = readlinkSync(obj, { encoding: 'buffer' });
      const written = this.placer.place(dirPath, name, (p) => this.makeSymlink(p, target, this.opts.userMode ? undefined : st));
      this.count(written);
      if (written && this.objectXattrs) this.xattrFromObjects.push([dest, obj]);
      return;
    }
    if (!st.isFile()) throw new CanopyError('ERR_OBJECT_INVALID', `file object ${obj} is neither a regular file nor a symlink`, { checksum, path: obj });
    this.stats.files++;
    // Like ostree: empty files are always copied (they would share one inode
    // and hit the link limit), and so are files user mode must make readable.
    const unreadable = this.opts.userMode && (st.mode & 0o400) === 0;
    if (this.linkFiles && st.size > 0 && !unreadable && this.tryLink(obj, st, dirPath, name)) return;
    const size = st.size;
    const owner = this.opts.userMode ? undefined : st;
    const written = this.placer.place(dirPath, name, (p) => this.makeRegular(p, owner, st.mode, (fd) => copyContent(obj, fd, size)));
    this.count(written);
    if (written && this.objectXattrs) this.xattrFromObjects.push([dest, obj]);
  }

  private writeFromArchive(dirPath: string, name: string, obj: string, checksum: string): Promise<void> | void {
    const o = readArchiveObject(obj, checksum);
    const h = o.header;
    const owner = this.opts.userMode ? undefined : h;
    let written: boolean;
    if (isLinkMode(h.mode)) {
      this.stats.symlinks++;
      written = this.placer.place(dirPath, name, (p) => this.makeSymlink(p, h.symlinkTarget, owner));
    } else {
      this.stats.files++;
      if (o.content === undefined) {
        return this.placeStreamed(dirPath, name, owner, h.mode, (fd) => inflateArchiveTo(obj, checksum, h, o.dataOffset, fd)).then((w) => {
          this.count(w);
          this.queueXattrs(w, dirPath + '/' + name, h.xattrs);
        });
      }
      const content = o.content;
      written = this.placer.place(dirPath, name, (p) => this.makeRegular(p, owner, h.mode, (fd) => writeAll(fd, content)));
    }
    this.count(written);
    this.queueXattrs(written, dirPath + '/' + name, h.xattrs);
  }

  private queueXattrs(written: boolean, dest: string, xattrs: readonly Xattr[]): void {
    if (written && xattrs.length > 0 && this.opts.xattrs && !this.opts.userMode) this.xattrQueue.push([dest, xattrs]);
  }

  private count(written: boolean): void {
    if (written) this.stats.copied++;
    else this.stats.kept++;
  }

  /** The permission bits a copy gets. */
  private fileMode(mode: number): number {
    let m = mode & 0o7777;
    if (this.opts.userMode) {
      m &= ~0o6000;
      m |= 0o400; // ostree makes files readable to their owner in user mode
    }
    return m;
  }

  private makeSymlink(path: string, target: string | Buffer, owner: Owner | undefined): void {
    symlinkSync(target, path);
    if (owner) {
      try {
        lchownSync(path, owner.uid, owner.gid);
      } catch (e) {
        if (errno(e) === 'EPERM') throw new CanopyError('ERR_PERMISSION', `cannot give ${path} owner ${owner.uid}:${owner.gid}: that needs root (use userMode)`, { path }, { cause: e });
        throw e;
      }
    }
  }

  private makeRegular(path: string, owner: Owner | undefined, mode: number, fill: (fd: number) => void): void {
    const fd = openSync(path, O_NEW_FILE, 0o600);
    try {
      fill(fd);
      if (owner) this.chown(fd, owner, path);
      fchmodSync(fd, this.fileMode(mode));
    } finally {
      closeSync(fd);
    }
  }

  /**
   * Tries to hardlink `obj` as `dirPath/name`. Returns false when the caller
   * must copy instead (another file system, link limit, protected links).
   */
  private tryLink(obj: string, st: Stats, dirPath: string, name: string): boolean {
    const dest = dirPath + '/' + name;
    try {
      linkSync(obj, dest);
      this.stats.hardlinked++;
      return true;
    } catch (e) {
      const code = errno(e);
      if (code === 'EEXIST') {
        const same = (d: Stats): boolean => d.ino === st.ino && d.dev === st.dev;
        if (this.placer.replaceExisting(dirPath, name, (p) => linkSync(obj, p), same)) this.stats.hardlinked++;
        else this.stats.kept++;
        return true;
      }
      if (code === 'EXDEV' || code === 'EMLINK' || code === 'EPERM') {
        if (this.opts.hardlinks === 'require') {
          throw new CanopyError('ERR_HARDLINK_FAILED', `cannot hardlink ${obj} to ${dest} (${code}); a hardlink checkout was required`, { path: dest, errno: code ?? null }, { cause: e });
        }
        if (code === 'EXDEV') this.linkFiles = false;
        return false;
      }
      throw ioError(e, 'hardlink', dest);
    }
  }

  /** Large content: written to a temporary name, verified, then put in place. */
  private async placeStreamed(dirPath: string, name: string, owner: Owner | undefined, mode: number, fill: (fd: number) => Promise<void>): Promise<boolean> {
    const dest = dirPath + '/' + name;
    if (this.opts.overwrite === 'add' && lstatSync(dest, { throwIfNoEntry: false })) return false;
    const tmp = this.placer.tmpPath(dirPath);
    try {
      const fd = openSync(tmp, O_NEW_FILE, 0o600);
      try {
        await fill(fd);
        if (owner) this.chown(fd, owner, dest);
        fchmodSync(fd, this.fileMode(mode));
      } finally {
        closeSync(fd);
      }
      return this.placer.install(tmp, dirPath, name);
    } catch (e) {
      rmSync(tmp, { force: true });
      throw ioError(e, 'write', dest);
    }
  }
}

let copyBuf: Buffer | undefined;

/** Copies a bare object's content into `fd`. */
function copyContent(src: string, fd: number, size: number): void {
  if (size <= WHOLE_COPY_MAX) {
    writeAll(fd, readFileSync(src));
    return;
  }
  copyBuf ??= Buffer.allocUnsafe(1 << 20);
  const sfd = openSync(src, 'r');
  try {
    for (;;) {
      const n = readSync(sfd, copyBuf, 0, copyBuf.length, null);
      if (n === 0) break;
      writeAll(fd, copyBuf.subarray(0, n));
    }
  } finally {
    closeSync(sfd);
  }
}
