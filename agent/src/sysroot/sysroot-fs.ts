/**
 * Every change the sysroot code makes to the file system goes through one
 * {@link SysrootFs}, which calls an injectable hook after each operation.
 * Tests use the hook to stop a process at operation k (SIGKILL or a thrown
 * error) and check that the sysroot still boots; production passes none.
 *
 * Writes that must not be seen half done are atomic: file contents go to a
 * temporary name and are renamed into place; symlinks are replaced by
 * creating `<name>.tmp` and renaming it over the old one (as ostree does).
 */
import { spawnSync } from 'node:child_process';
import {
  chmodSync, closeSync, copyFileSync, constants as fsConstants, fsyncSync, lchownSync, linkSync, lstatSync, mkdirSync,
  openSync, readlinkSync, renameSync, rmSync, symlinkSync, unlinkSync, utimesSync, writeSync, chownSync, lutimesSync,
} from 'node:fs';
import { dirname } from 'node:path';
import { CanopyError, ioError } from '../core/errors';

/** Called after every file-system operation with its name and path. May throw or end the process. */
export type FaultHook = (op: string, path: string) => void;

/** Extended-attribute access, batched (one process per call). */
export interface XattrPort {
  read(paths: string[]): Map<string, Array<{ name: string; value: Uint8Array }>>;
  apply(entries: Iterable<[string, ReadonlyArray<{ name: string; value: Uint8Array }>]>): void;
}

export interface SysrootFsOptions {
  hook?: FaultHook;
  /** fsync written files and renamed directories (default true). */
  fsync?: boolean;
  /**
   * Set the immutable attribute on finished deployment roots as ostree does
   * (`chattr +i`). Default: only when running as root.
   */
  immutable?: boolean;
}

export class SysrootFs {
  /** Operations done so far. */
  ops = 0;
  private readonly hook?: FaultHook;
  readonly fsyncEnabled: boolean;
  readonly immutable: boolean;

  constructor(opts: SysrootFsOptions = {}) {
    this.hook = opts.hook;
    this.fsyncEnabled = opts.fsync ?? true;
    this.immutable = opts.immutable ?? process.getuid?.() === 0;
  }

  /** Records one operation and runs the hook. */
  step(op: string, path: string): void {
    this.ops++;
    this.hook?.(op, path);
  }

  private wrap<T>(op: string, path: string, f: () => T): T {
    let r: T;
    try {
      r = f();
    } catch (e) {
      throw ioError(e, op, path);
    }
    this.step(op, path);
    return r;
  }

  mkdirp(path: string, mode = 0o755): void {
    if (lstatSync(path, { throwIfNoEntry: false })?.isDirectory()) return;
    this.wrap('mkdir', path, () => mkdirSync(path, { recursive: true, mode }));
  }

  /** mkdir of one directory; false when it already existed. */
  mkdir(path: string, mode: number): boolean {
    try {
      mkdirSync(path, { mode });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw ioError(e, 'mkdir', path);
    }
    this.step('mkdir', path);
    return true;
  }

  /**
   * `rm -rf`; nothing when the path is absent. `deployment: true` first
   * clears the immutable attribute that ostree puts on deployment roots.
   */
  rmrf(path: string, opts: { deployment?: boolean } = {}): void {
    const st = lstatSync(path, { throwIfNoEntry: false });
    if (!st) return;
    if (opts.deployment && st.isDirectory()) clearImmutable(path);
    this.wrap('rmrf', path, () => rmSync(path, { recursive: true, force: true }));
  }

  unlink(path: string): void {
    this.wrap('unlink', path, () => unlinkSync(path));
  }

  /** Unlinks when present; true when something was removed. */
  unlinkIfExists(path: string): boolean {
    if (!lstatSync(path, { throwIfNoEntry: false })) return false;
    this.unlink(path);
    return true;
  }

  rename(from: string, to: string): void {
    this.wrap('rename', to, () => renameSync(from, to));
  }

  symlink(target: string, path: string): void {
    this.wrap('symlink', path, () => symlinkSync(target, path));
  }

  /** Replaces `path` with a symlink to `target` atomically (via `<path>.tmp`). */
  symlinkReplace(target: string, path: string): void {
    const tmp = `${path}.tmp`;
    try {
      rmSync(tmp, { force: true });
    } catch (e) {
      throw ioError(e, 'unlink', tmp);
    }
    this.symlink(target, tmp);
    this.rename(tmp, path);
  }

  /** Writes a file atomically: temporary name, optional fsync, rename. */
  writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o644): void {
    const tmp = `${dirname(path)}/.${path.slice(dirname(path).length + 1)}.tmp`;
    try {
      const fd = openSync(tmp, 'w', mode);
      try {
        writeSync(fd, typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
        if (this.fsyncEnabled) fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      chmodSync(tmp, mode);
    } catch (e) {
      throw ioError(e, 'write', path);
    }
    this.step('write', tmp);
    this.rename(tmp, path);
  }

  /** A hardlink, or undefined when linking is impossible (EXDEV, EMLINK, EPERM). */
  tryLink(src: string, dst: string): boolean {
    try {
      linkSync(src, dst);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EXDEV' || code === 'EMLINK' || code === 'EPERM') return false;
      throw ioError(e, 'link', dst);
    }
    this.step('link', dst);
    return true;
  }

  /**
   * Copies a regular file or symlink with owner, permission bits and
   * timestamps (what ostree's glnx_file_copy_at keeps). No xattrs here.
   */
  copyEntry(src: string, dst: string): void {
    this.wrap('copy', dst, () => {
      const st = lstatSync(src);
      if (st.isSymbolicLink()) {
        symlinkSync(readlinkSync(src), dst);
        try {
          lchownSync(dst, st.uid, st.gid);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EPERM') throw e;
        }
        lutimesSync(dst, st.atime, st.mtime);
        return;
      }
      copyFileSync(src, dst, fsConstants.COPYFILE_EXCL);
      try {
        chownSync(dst, st.uid, st.gid);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EPERM') throw e;
      }
      chmodSync(dst, st.mode & 0o7777);
      if (this.fsyncEnabled) {
        const fd = openSync(dst, 'r');
        try {
          fsyncSync(fd);
        } finally {
          closeSync(fd);
        }
      }
      utimesSync(dst, st.atime, st.mtime);
    });
  }

  /** Sets owner and permission bits of a directory (or file). */
  setOwnerMode(path: string, uid: number, gid: number, mode: number): void {
    this.wrap('chmod', path, () => {
      const st = lstatSync(path);
      if (st.uid !== uid || st.gid !== gid) chownSync(path, uid, gid);
      chmodSync(path, mode & 0o7777);
    });
  }

  /** Sets a path's modification time (access time too). */
  touch(path: string, when = new Date()): void {
    this.wrap('utimes', path, () => utimesSync(path, when, when));
  }

  /** Flushes the file system holding `path` (`sync -f`, i.e. syncfs). */
  syncfs(path: string): void {
    if (!this.fsyncEnabled) return;
    const r = spawnSync('sync', ['-f', path]);
    if (r.error || r.status !== 0) throw new CanopyError('ERR_IO', `could not flush the file system holding ${path}`, { path });
    this.step('syncfs', path);
  }

  /** fsyncs a directory so renames in it are durable. */
  fsyncDir(path: string): void {
    if (!this.fsyncEnabled) return;
    this.wrap('fsync', path, () => {
      const fd = openSync(path, 'r');
      try {
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    });
  }

  /** Marks a finished deployment root immutable, as ostree does (no-op when disabled or unsupported). */
  seal(path: string): void {
    if (!this.immutableCapable()) return;
    setImmutable(path, true);
    this.step('chattr', path);
  }

  private immutableCapable(): boolean {
    return this.immutable && chattrAvailable();
  }
}

let chattrPresent: boolean | undefined;

function chattrAvailable(): boolean {
  chattrPresent ??= !spawnSync('chattr', ['--help'], { stdio: 'ignore' }).error;
  return chattrPresent;
}

/** `chattr [+-]i` on one directory; file systems without the attribute are ignored. */
function setImmutable(path: string, on: boolean): void {
  const r = spawnSync('chattr', [on ? '+i' : '-i', '--', path], { encoding: 'utf8' });
  if (r.error || r.status === 0) return;
  if (/not supported|Inappropriate ioctl/i.test(r.stderr)) return;
  throw new CanopyError('ERR_IO', `chattr ${on ? '+i' : '-i'} ${path}: ${r.stderr.trim()}`, { path });
}

/** Clears the immutable attribute ostree sets on deployment roots (and on any direct child directory that has it). */
export function clearImmutable(path: string): void {
  if (!chattrAvailable()) return;
  const r = spawnSync('lsattr', ['-d', '--', path], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return;
  const flags = r.stdout.trim().split(/\s+/)[0] ?? '';
  if (flags.includes('i')) setImmutable(path, false);
}
