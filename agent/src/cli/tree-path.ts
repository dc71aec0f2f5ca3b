/**
 * Revisions and paths inside a commit, for `log`, `ls`, `cat` and the
 * rest: resolve a revision to a commit, a path to its dirtree
 * entry, list a directory the way ostree enumerates it (files, then
 * subdirectories, each in name order), and read a file object's header
 * cheaply (no content read, no checksum) for listings.
 */
import { closeSync, lstatSync, openSync, readlinkSync, readSync } from 'node:fs';
import { CanopyError, ioError } from '../core/errors';
import { Limits } from '../core/limits';
import { ObjectType, parseArchiveHeader, type Commit, type Xattr } from '../objects/index';
import { resolveRev, type Repo } from '../repo/index';

/** Resolves a revision (`ref`, `remote:ref`, checksum, each `^` a parent). Throws ERR_REF_NOT_FOUND. */
export function resolveCommit(repo: Repo, rev: string): string {
  return resolveRev(repo, rev, (c) => repo.loadCommit(c).parent);
}

export type TreeNode =
  | { readonly kind: 'dir'; readonly path: string; readonly tree: string; readonly meta: string }
  | { readonly kind: 'file'; readonly path: string; readonly checksum: string };

/** Splits a path into components, resolving `.` and `..` (never above the root). */
export function splitTreePath(path: string): string[] {
  const out: string[] = [];
  for (const c of path.split('/')) {
    if (c === '' || c === '.') continue;
    if (c === '..') out.pop();
    else out.push(c);
  }
  return out;
}

const join = (dir: string, name: string): string => (dir === '/' ? `/${name}` : `${dir}/${name}`);

/** Finds `path` in the commit's tree. Throws ERR_PATH_NOT_FOUND. */
export function resolveTreePath(repo: Repo, commit: Commit, path: string): TreeNode {
  let node: TreeNode = { kind: 'dir', path: '/', tree: commit.rootTree, meta: commit.rootMeta };
  for (const name of splitTreePath(path)) {
    if (node.kind !== 'dir') throw new CanopyError('ERR_PATH_NOT_FOUND', `${node.path} is not a directory (looking up ${path})`, { path });
    const dt = repo.loadDirTree(node.tree);
    const f = dt.files.find((e) => e.name === name);
    const d = f ? undefined : dt.dirs.find((e) => e.name === name);
    if (f) node = { kind: 'file', path: join(node.path, name), checksum: f.checksum };
    else if (d) node = { kind: 'dir', path: join(node.path, name), tree: d.tree, meta: d.meta };
    else throw new CanopyError('ERR_PATH_NOT_FOUND', `no such file or directory: ${join(node.path, name)}`, { path });
  }
  return node;
}

/** The entries of a directory: files first, then subdirectories (ostree's order). */
export function listTreeDir(repo: Repo, dir: TreeNode & { kind: 'dir' }): TreeNode[] {
  const dt = repo.loadDirTree(dir.tree);
  return [
    ...dt.files.map((f): TreeNode => ({ kind: 'file', path: join(dir.path, f.name), checksum: f.checksum })),
    ...dt.dirs.map((d): TreeNode => ({ kind: 'dir', path: join(dir.path, d.name), tree: d.tree, meta: d.meta })),
  ];
}

export interface FileInfo {
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  /** Content size; 0 for symlinks (as ostree ls shows them). */
  readonly size: number;
  readonly symlinkTarget: string;
  /** Archive repos carry xattrs in the header; undefined where they live on disk (bare). */
  readonly xattrs?: readonly Xattr[];
}

/**
 * A file object's header without reading its content. Throws
 * ERR_OBJECT_NOT_FOUND, ERR_OBJECT_INVALID.
 */
export function fileInfo(repo: Repo, checksum: string): FileInfo {
  const p = repo.objectPath(checksum, ObjectType.FILE);
  try {
    if (repo.mode === 'archive') return archiveInfo(p, checksum);
    const st = lstatSync(p);
    const owned = repo.mode === 'bare';
    const base = { uid: owned ? st.uid : 0, gid: owned ? st.gid : 0 };
    if (st.isSymbolicLink()) return { ...base, mode: 0o120777, size: 0, symlinkTarget: readlinkSync(p, 'utf8') };
    return { ...base, mode: st.mode, size: st.size, symlinkTarget: '', xattrs: repo.mode === 'bare' ? undefined : [] };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new CanopyError('ERR_OBJECT_NOT_FOUND', `file object ${checksum} is not in ${repo.path}`, { checksum });
    if (e instanceof CanopyError) throw new CanopyError(e.code, `file object ${checksum}: ${e.message}`, { ...e.details, checksum }, { cause: e });
    throw ioError(e, 'read', p);
  }
}

function archiveInfo(p: string, checksum: string): FileInfo {
  const fd = openSync(p, 'r');
  try {
    const head = Buffer.alloc(8);
    if (readSync(fd, head, 0, 8, 0) !== 8) throw new CanopyError('ERR_OBJECT_INVALID', 'truncated archive object', { checksum });
    const len = head.readUInt32BE(0);
    const whole = Buffer.alloc(8 + Math.min(len, Limits.maxFileHeaderSize));
    const n = readSync(fd, whole, 0, whole.length, 0);
    const { header } = parseArchiveHeader(whole.subarray(0, n));
    return { mode: header.mode, uid: header.uid, gid: header.gid, size: header.symlinkTarget ? 0 : header.size, symlinkTarget: header.symlinkTarget, xattrs: header.xattrs };
  } finally {
    closeSync(fd);
  }
}
