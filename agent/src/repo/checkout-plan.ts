/**
 * The read half of a checkout: resolve the subpath inside the commit and
 * load every dirtree and dirmeta below it, before anything is written. A
 * commit whose trees are missing or corrupt therefore fails without
 * touching the destination, and the writer knows the file count up front.
 *
 * Dirtrees and dirmetas are loaded through {@link Repo.loadDirTree} and
 * {@link Repo.loadDirMeta} (checksums verified, names validated) and cached
 * by checksum, so subtrees shared by many directories are read once. The
 * expanded tree is bounded: a few small dirtrees that reference each other
 * twice per level would otherwise describe billions of paths.
 */
import { CanopyError } from '../core/errors';
import { assertSafeName } from '../core/names';
import type { DirMeta, DirTree, DirTreeFile } from '../objects/index';
import type { Repo } from './repo';

/** Bounds on the expanded tree of one checkout. */
export const CheckoutLimits = {
  /** Files, symlinks and directories in one checkout. */
  maxEntries: 4_000_000,
  /** Directory nesting (a path this deep already exceeds Linux's PATH_MAX). */
  maxDepth: 2048,
} as const;

/** One directory to create, with what goes in it. */
export interface PlanDir {
  readonly name: string;
  readonly meta: DirMeta;
  readonly files: readonly DirTreeFile[];
  readonly dirs: readonly PlanDir[];
}

/** What a checkout writes: a directory tree, or one file (a file subpath). */
export type PlanRoot = { readonly kind: 'dir'; readonly dir: PlanDir } | { readonly kind: 'file'; readonly file: DirTreeFile };

export interface CheckoutPlan {
  readonly commit: string;
  readonly root: PlanRoot;
  /** Files and symlinks to write. */
  readonly files: number;
  /** Directories to create (or enter, in a union). */
  readonly dirs: number;
}

/**
 * Splits a subpath inside a commit into names. Leading, trailing and
 * repeated `/` and `.` components are ignored; `""` and `"/"` mean the
 * whole tree. Throws ERR_UNSAFE_PATH for a `..` component (a subpath can
 * never leave the tree) and ERR_UNSAFE_NAME for a component with NUL or
 * longer than NAME_MAX.
 */
export function splitSubpath(subpath: string): string[] {
  const out: string[] = [];
  for (const part of subpath.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      throw new CanopyError('ERR_UNSAFE_PATH', `subpath ${JSON.stringify(subpath)} contains "..": a checkout subpath must stay inside the commit`, { subpath });
    }
    out.push(assertSafeName(part, 'subpath component'));
  }
  return out;
}

class TreeCache {
  private readonly trees = new Map<string, DirTree>();
  private readonly metas = new Map<string, DirMeta>();
  constructor(private readonly repo: Repo) {}

  tree(checksum: string): DirTree {
    let t = this.trees.get(checksum);
    if (!t) {
      t = this.repo.loadDirTree(checksum);
      this.trees.set(checksum, t);
    }
    return t;
  }

  meta(checksum: string): DirMeta {
    let m = this.metas.get(checksum);
    if (!m) {
      m = this.repo.loadDirMeta(checksum);
      this.metas.set(checksum, m);
    }
    return m;
  }
}

/**
 * Loads what checking out `commit` (optionally only `subpath` of it) will
 * write. Throws ERR_OBJECT_NOT_FOUND for a missing commit, dirtree or
 * dirmeta; ERR_CHECKSUM_MISMATCH, ERR_OBJECT_INVALID, ERR_GVARIANT_* or
 * ERR_UNSAFE_NAME for a corrupt or hostile one; ERR_PATH_NOT_FOUND when
 * `subpath` is not in the tree (a symlink in the commit is not followed);
 * ERR_UNSAFE_PATH for a `..` in `subpath`; ERR_TREE_TOO_LARGE beyond
 * {@link CheckoutLimits}.
 */
export function planCheckout(repo: Repo, commit: string, subpath = '/'): CheckoutPlan {
  const cache = new TreeCache(repo);
  const c = repo.loadCommit(commit);
  const names = splitSubpath(subpath);
  let tree = c.rootTree;
  let meta = c.rootMeta;
  for (let i = 0; i < names.length; i++) {
    const name = names[i];
    const here = '/' + names.slice(0, i + 1).join('/');
    const dt = cache.tree(tree);
    const sub = dt.dirs.find((d) => d.name === name);
    if (sub) {
      tree = sub.tree;
      meta = sub.meta;
      continue;
    }
    const file = dt.files.find((f) => f.name === name);
    if (file && i === names.length - 1) return { commit, root: { kind: 'file', file }, files: 1, dirs: 0 };
    const why = file ? 'is not a directory' : 'does not exist';
    throw new CanopyError('ERR_PATH_NOT_FOUND', `${here} ${why} in commit ${commit}`, { commit, subpath, path: here });
  }
  const size = measure(cache, tree, 0, new Map(), commit);
  if (size.files + size.dirs > CheckoutLimits.maxEntries) {
    throw new CanopyError('ERR_TREE_TOO_LARGE', `commit ${commit} expands to ${size.files + size.dirs} entries, more than ${CheckoutLimits.maxEntries}`, { commit, limit: CheckoutLimits.maxEntries });
  }
  const dir = expand(cache, names.length ? names[names.length - 1] : '', tree, meta);
  return { commit, root: { kind: 'dir', dir }, files: size.files, dirs: size.dirs };
}

interface Size { files: number; dirs: number; height: number }

/** Counts what a dirtree expands to, visiting each distinct dirtree once. */
function measure(cache: TreeCache, tree: string, depth: number, memo: Map<string, Size>, commit: string): Size {
  const known = memo.get(tree);
  if (depth > CheckoutLimits.maxDepth || (known && depth + known.height > CheckoutLimits.maxDepth + 1)) {
    throw new CanopyError('ERR_TREE_TOO_LARGE', `commit ${commit} nests directories deeper than ${CheckoutLimits.maxDepth} levels`, { commit, limit: CheckoutLimits.maxDepth });
  }
  if (known) return known;
  const dt = cache.tree(tree);
  const size: Size = { files: dt.files.length, dirs: 1, height: 1 };
  for (const d of dt.dirs) {
    const sub = measure(cache, d.tree, depth + 1, memo, commit);
    size.files += sub.files;
    size.dirs += sub.dirs;
    size.height = Math.max(size.height, sub.height + 1);
  }
  memo.set(tree, size);
  return size;
}

/** Builds the tree to write; its size was checked by {@link measure}. */
function expand(cache: TreeCache, name: string, tree: string, meta: string): PlanDir {
  const dt = cache.tree(tree);
  return { name, meta: cache.meta(meta), files: dt.files, dirs: dt.dirs.map((d) => expand(cache, d.name, d.tree, d.meta)) };
}
