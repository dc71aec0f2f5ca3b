/**
 * `checkout`: writes a commit's tree (or one path of it) into a directory,
 * as `ostree checkout` 2022.7 does.
 *
 * | repository | user mode | files become |
 * | --- | --- | --- |
 * | bare | no | hardlinks to the objects (owners, modes, xattrs come with the inode) |
 * | bare | yes | copies: caller owns them, setuid/setgid stripped, no xattrs |
 * | bare-user-only | always (forced, as ostree does) | hardlinks; symlinks copied |
 * | archive | either | copies, inflated and verified against their checksum |
 *
 * Empty files are always copied (ostree does the same: they would all share
 * one inode and reach the link limit). Hardlinks fall back to copies on
 * another file system (EXDEV), at the link limit (EMLINK) or under
 * protected hardlinks (EPERM), unless `linkMode: 'hardlink'` requires them.
 * New directories get their dirmeta's owner and mode after their children
 * are written (bare-user-only: mode & 0775) and mtime 0 unless copying.
 *
 * Trust: bare objects are not re-hashed (fsck is separate); archive objects
 * are verified as they are inflated, because the bytes are in hand anyway.
 *
 * Differences from ostree, on purpose:
 * - In a union, an existing symlink where the commit has a directory is
 *   refused (ERR_UNSAFE_PATH); ostree follows it and writes outside the
 *   destination. An existing symlink where the commit has a file is
 *   replaced (union) or kept (unionAdd), as ostree does; it is never
 *   written through. `dest` itself must not be a symlink.
 * - `subpath` with a `..` component is ERR_UNSAFE_PATH (ostree: not found).
 * - The uncompressed-objects cache of archive repos is not used or filled.
 * - A failed checkout into a new directory removes that directory.
 *
 * Not protected against: another process racing the checkout inside a
 * union destination (swapping a directory for a symlink between our check
 * and our writes). Check out into a directory only trusted users can write.
 */
import { lstatSync, readdirSync, rmSync, chmodSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { CanopyError, check, ioError } from '../core/errors';
import { planCheckout } from './checkout-plan';
import type { Overwrite } from './checkout-place';
import { CheckoutWriter, type CheckoutProgress, type CheckoutStats } from './checkout-writer';
import { resolveRev } from './refs';
import type { Repo } from './repo';
import { syncFilesystem } from './transaction';

export type { CheckoutProgress, CheckoutStats } from './checkout-writer';
export { CheckoutLimits, splitSubpath } from './checkout-plan';

export interface CheckoutOptions {
  /** Check out only this path of the commit (`/usr/etc`); a file lands inside `dest` under its own name. */
  subpath?: string;
  /** `dest` may exist; existing files are replaced by the commit's (`--union`). */
  union?: boolean;
  /** `dest` may exist; existing files are kept, missing ones added (`--union-add`). */
  unionAdd?: boolean;
  /** Like `ostree checkout -U`: no chown, no xattrs, setuid/setgid stripped. Forced for bare-user-only. */
  userMode?: boolean;
  /**
   * `auto` (default): hardlink from bare repos (bare-user-only always; bare
   * unless userMode), copying where linking fails. `hardlink`: fail with
   * ERR_HARDLINK_FAILED instead of copying (`-H`). `copy`: never link (`-C`).
   */
  linkMode?: 'auto' | 'hardlink' | 'copy';
  /** Do not apply extended attributes to directories and copies (hardlinks keep the object's). */
  noXattrs?: boolean;
  /** Flush the destination's file system (one syncfs) before returning. */
  fsync?: boolean;
  /** Called every 1024 files and at the end. */
  onProgress?: (p: CheckoutProgress) => void;
}

/**
 * Checks out `commit` (a checksum or a ref) into `dest`.
 *
 * Throws: ERR_INVALID_ARGUMENT (union and unionAdd together, bad linkMode);
 * ERR_REF_NOT_FOUND; ERR_PATH_NOT_FOUND (subpath not in the commit);
 * ERR_UNSAFE_PATH (`..` in subpath; `dest` or a directory in a union is a
 * symlink); ERR_CHECKOUT_EXISTS (`dest` exists without union/unionAdd);
 * ERR_CHECKOUT_CONFLICT (union: a file where the commit has a directory, or
 * the reverse); ERR_REPO_MODE (`linkMode: 'hardlink'` from an archive repo,
 * or from a bare one in user mode); ERR_HARDLINK_FAILED; ERR_OBJECT_NOT_FOUND,
 * ERR_CHECKSUM_MISMATCH, ERR_OBJECT_INVALID, ERR_UNSAFE_NAME, ERR_GVARIANT_*
 * (missing, corrupt or hostile objects); ERR_TREE_TOO_LARGE; ERR_PERMISSION
 * (chown without root: use userMode); ERR_XATTR; ERR_IO, ERR_NO_SPACE.
 * Commit, dirtrees and dirmetas are all read before anything is written.
 * When writing fails, a destination this call created is removed; the
 * error's `details.removed` says whether that worked (`details.leftBehind`
 * names what is left otherwise).
 */
export async function checkout(repo: Repo, commit: string, dest: string, opts: CheckoutOptions = {}): Promise<CheckoutStats> {
  check(!(opts.union && opts.unionAdd), 'union and unionAdd cannot be combined');
  const linkMode = opts.linkMode ?? 'auto';
  check(['auto', 'hardlink', 'copy'].includes(linkMode), `unknown linkMode ${JSON.stringify(linkMode)}`, { linkMode });
  check(typeof dest === 'string' && dest.length > 0, 'checkout destination must be a non-empty path');
  const overwrite: Overwrite = opts.union ? 'union' : opts.unionAdd ? 'add' : 'none';
  const userMode = !!opts.userMode || repo.mode === 'bare-user-only';
  const checksum = resolveRev(repo, commit, (c) => repo.loadCommit(c).parent);
  const plan = planCheckout(repo, checksum, opts.subpath ?? '/');
  const abs = resolve(dest);

  const destSt = lstatSync(abs, { throwIfNoEntry: false });
  if (destSt?.isSymbolicLink()) {
    throw new CanopyError('ERR_UNSAFE_PATH', `checkout destination ${abs} is a symbolic link; pass the directory it points to`, { path: abs });
  }

  let hardlinks = hardlinkPolicy(repo, linkMode, userMode);
  if (hardlinks !== 'never' && !sameFileSystem(join(repo.path, 'objects'), destSt?.isDirectory() ? abs : dirname(abs))) {
    if (hardlinks === 'require') {
      throw new CanopyError('ERR_HARDLINK_FAILED', `cannot hardlink from ${repo.path} into ${abs}: they are on different file systems`, { path: abs });
    }
    hardlinks = 'never';
  }

  const writer = new CheckoutWriter(repo, {
    overwrite,
    userMode,
    hardlinks,
    xattrs: !opts.noXattrs,
    setDirMtime: linkMode !== 'copy',
    filesTotal: plan.files,
    onProgress: opts.onProgress,
  });
  try {
    if (plan.root.kind === 'dir') await writer.writeTree(abs, plan.root.dir);
    else await writer.writeSingleFile(abs, plan.root.file);
    writer.finish();
    if (opts.fsync && !syncFilesystem(abs)) throw new CanopyError('ERR_IO', `could not flush the file system holding ${abs}`, { path: abs });
  } catch (e) {
    throw failed(e, checksum, abs, writer.createdTop, writer.touched);
  }
  return { ...writer.stats };
}

function hardlinkPolicy(repo: Repo, linkMode: 'auto' | 'hardlink' | 'copy', userMode: boolean): 'never' | 'auto' | 'require' {
  if (linkMode === 'copy') return 'never';
  const eligible = repo.mode === 'bare-user-only' || (repo.mode === 'bare' && !userMode);
  if (linkMode === 'auto') return eligible ? 'auto' : 'never';
  if (!eligible) {
    throw new CanopyError('ERR_REPO_MODE', repo.mode === 'archive'
      ? `a hardlink checkout needs a bare or bare-user-only repository; ${repo.path} is an archive`
      : `a bare repository cannot be hardlinked in user mode (its objects carry their real owners and modes)`, { mode: repo.mode });
  }
  return 'require';
}

function sameFileSystem(a: string, b: string): boolean {
  try {
    return statSync(a).dev === statSync(b).dev;
  } catch {
    return true; // let the checkout itself report a missing path
  }
}

function failed(e: unknown, commit: string, dest: string, createdTop: boolean, touched: boolean): CanopyError {
  const base = e instanceof CanopyError ? e : ioError(e, 'check out into', dest);
  let note = '';
  let removed: boolean | undefined;
  if (createdTop) {
    removed = removeTree(dest);
    note = removed ? '; the partial checkout was removed' : `; a partial checkout is left in ${dest}`;
  } else if (touched) {
    note = `; what was written into ${dest} before the failure is still there`;
  }
  const details = { ...base.details, commit, dest, ...(removed !== undefined ? { removed } : {}), ...(removed === false ? { leftBehind: dest } : {}) };
  return new CanopyError(base.code, `checkout of ${commit} into ${dest} failed: ${base.message}${note}`, details, { cause: e });
}

/** Removes a partial checkout; read-only directories are opened up first if needed. */
function removeTree(path: string): boolean {
  try {
    rmSync(path, { recursive: true, force: true });
    return true;
  } catch {
    // A non-root caller cannot delete inside a finished 0555 directory.
  }
  try {
    openUp(path);
    rmSync(path, { recursive: true, force: true });
    return true;
  } catch {
    return false;
  }
}

function openUp(path: string): void {
  const st = lstatSync(path, { throwIfNoEntry: false });
  if (!st?.isDirectory()) return;
  chmodSync(path, 0o700);
  for (const name of readdirSync(path)) openUp(join(path, name));
}
