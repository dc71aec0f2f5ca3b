/**
 * Which objects a commit needs, and which objects a repository holds.
 *
 * A commit reaches its root dirtree and dirmeta, every dirtree, dirmeta and
 * file below them, its detached metadata (`.commitmeta`, when present) and,
 * up to a depth, its parents and everything they reach. The walk is
 * iterative (a deep tree cannot overflow the stack) and parses each dirtree
 * once, however many directories share it.
 *
 * Missing parents end the history quietly: shallow repositories are normal.
 * A missing dirtree is an error unless the commit is marked partial
 * (`state/<commit>.commitpartial`), as in `ostree prune`/`fsck`.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { assertChecksum, isChecksum } from '../core/bytes';
import { CanopyError, ioError, isCanopyError } from '../core/errors';
import { ObjectType, objectTypeFromExtension, objectTypeName, type Commit, type DirTree } from '../objects/index';
import type { Repo } from './repo';

/** One object: its checksum and type. */
export interface ObjectRef {
  readonly checksum: string;
  readonly type: ObjectType;
}

/** A set of objects keyed by {@link objectKey}. */
export type ObjectSet = Map<string, ObjectRef>;

/** `<checksum>.<type name>`: the key of an object in an {@link ObjectSet}. */
export function objectKey(checksum: string, type: ObjectType): string {
  return `${checksum}.${objectTypeName(type)}`;
}

/** Where a walk gets commits and dirtrees from; `undefined` means absent. */
export interface WalkSource {
  loadCommit(checksum: string): Commit | undefined;
  loadDirTree(checksum: string): DirTree | undefined;
  isPartial(commit: string): boolean;
  hasCommitMeta(commit: string): boolean;
}

/** The path of a commit's partial marker, relative to the repository. */
export function commitPartialRelPath(commit: string): string {
  return `state/${commit}.commitpartial`;
}

/**
 * Reads from the repository on disk. Absent objects are `undefined`; a
 * corrupt one throws (ERR_CHECKSUM_MISMATCH, ERR_GVARIANT_*, ERR_OBJECT_INVALID),
 * so a walk never guesses what a damaged dirtree referenced.
 */
export function repoWalkSource(repo: Repo): WalkSource {
  const absent = <T>(f: () => T): T | undefined => {
    try {
      return f();
    } catch (e) {
      if (isCanopyError(e, 'ERR_OBJECT_NOT_FOUND')) return undefined;
      throw e;
    }
  };
  return {
    loadCommit: (c) => absent(() => repo.loadCommit(c)),
    loadDirTree: (c) => absent(() => repo.loadDirTree(c)),
    isPartial: (c) => existsSync(join(repo.path, commitPartialRelPath(c))),
    hasCommitMeta: (c) => repo.hasObject(c, ObjectType.COMMIT_META),
  };
}

export interface WalkerOptions {
  /**
   * Called for a dirtree that the source does not have, instead of failing.
   * Without it, a missing dirtree of a complete commit throws
   * ERR_OBJECT_NOT_FOUND.
   */
  onMissingDirTree?: (tree: string, referencedBy: ObjectRef) => void;
}

/**
 * Accumulates the objects reachable from any number of commits (a union).
 * Commits, their trees and their history are each visited once; a commit
 * reached again with a larger depth only extends the history walk.
 */
export class ObjectWalker {
  readonly reachable: ObjectSet = new Map();
  /** Commits whose trees were walked, with the history depth they were reached with. */
  private readonly commitDepth = new Map<string, number>();

  constructor(private readonly source: WalkSource, private readonly opts: WalkerOptions = {}) {}

  /**
   * Adds `commit` and what it reaches, following `depth` parents (-1: all).
   * `keepWhile`, when given, is asked for each commit on the way: the first
   * one that fails it ends the history, and is itself kept only when it is
   * `commit` (a ref's own commit always stays: `--keep-younger-than`).
   * Throws ERR_OBJECT_NOT_FOUND for a missing dirtree of a complete commit.
   */
  addCommit(commit: string, depth = 0, keepWhile?: (c: Commit) => boolean): void {
    assertChecksum(commit, 'commit');
    let current: string | undefined = commit;
    let remaining = depth < 0 ? Infinity : depth;
    let first = true;
    while (current !== undefined) {
      const seen = this.commitDepth.get(current);
      if (seen !== undefined && seen >= remaining) return;
      const c = this.source.loadCommit(current);
      if (!c) return; // history ends here (shallow repository)
      const keep = keepWhile ? keepWhile(c) : true;
      if (!keep && !first) return;
      if (!keep) remaining = 0;
      first = false;
      this.commitDepth.set(current, Math.max(seen ?? 0, remaining));
      if (seen === undefined) this.addTree(current, c);
      if (remaining === 0 || c.parent === undefined) return;
      remaining--;
      current = c.parent;
    }
  }

  private add(checksum: string, type: ObjectType): boolean {
    const key = objectKey(checksum, type);
    if (this.reachable.has(key)) return false;
    this.reachable.set(key, { checksum, type });
    return true;
  }

  private addTree(commit: string, c: Commit): void {
    this.add(commit, ObjectType.COMMIT);
    if (this.source.hasCommitMeta(commit)) this.add(commit, ObjectType.COMMIT_META);
    this.add(c.rootMeta, ObjectType.DIR_META);
    if (!this.add(c.rootTree, ObjectType.DIR_TREE)) return;
    let partial: boolean | undefined;
    const stack: Array<{ tree: string; from: ObjectRef }> = [{ tree: c.rootTree, from: { checksum: commit, type: ObjectType.COMMIT } }];
    while (stack.length > 0) {
      const { tree, from } = stack.pop()!;
      const dt = this.source.loadDirTree(tree);
      if (!dt) {
        partial ??= this.source.isPartial(commit);
        if (partial) continue;
        if (this.opts.onMissingDirTree) {
          this.opts.onMissingDirTree(tree, from);
          continue;
        }
        throw new CanopyError('ERR_OBJECT_NOT_FOUND', `dirtree ${tree} (referenced by ${objectKey(from.checksum, from.type)}) is missing, and commit ${commit} is not marked partial`, { checksum: tree, commit, referencedBy: from.checksum });
      }
      const self: ObjectRef = { checksum: tree, type: ObjectType.DIR_TREE };
      for (const f of dt.files) this.add(f.checksum, ObjectType.FILE);
      for (const d of dt.dirs) {
        this.add(d.meta, ObjectType.DIR_META);
        if (this.add(d.tree, ObjectType.DIR_TREE)) stack.push({ tree: d.tree, from: self });
      }
    }
  }
}

/**
 * The objects reachable from `commit`: the commit, its `.commitmeta` if
 * any, and every dirtree, dirmeta and file of its tree; with `depth` N also
 * those of N parents (-1: the whole history; default 0). Absent parents
 * are fine. Throws ERR_OBJECT_NOT_FOUND when a complete commit lacks a
 * dirtree, ERR_CHECKSUM_MISMATCH or ERR_OBJECT_INVALID/ERR_GVARIANT_* when
 * a commit or dirtree on the way is corrupt, ERR_CHECKSUM_INVALID for a bad
 * `commit` argument.
 */
export function reachableObjects(repo: Repo, commit: string, opts: { depth?: number } = {}): ObjectSet {
  const w = new ObjectWalker(repoWalkSource(repo));
  w.addCommit(commit, opts.depth ?? 0);
  return w.reachable;
}

/** One loose object found under `objects/`. */
export interface ListedObject extends ObjectRef {
  /** Path relative to the repository: `objects/ab/cdef….ext`. */
  readonly relPath: string;
}

const NAME_RE = /^([0-9a-f]{62})\.([a-z-]+)$/;
const PREFIX_RE = /^[0-9a-f]{2}$/;

/**
 * Lists the loose objects of the repository: commits, dirtrees, dirmetas,
 * `.commitmeta`, tombstones, and content objects with the extension of the
 * repository's mode. Other names are ignored, as ostree ignores them.
 * Throws ERR_IO when `objects/` cannot be read.
 */
export function listObjects(repo: Repo): ListedObject[] {
  const objectsDir = join(repo.path, 'objects');
  const contentExt = repo.mode === 'archive' ? 'filez' : 'file';
  let prefixes: string[];
  try {
    prefixes = readdirSync(objectsDir);
  } catch (e) {
    throw ioError(e, 'list', objectsDir);
  }
  const out: ListedObject[] = [];
  for (const prefix of prefixes.sort()) {
    if (!PREFIX_RE.test(prefix)) continue;
    let names: string[];
    try {
      names = readdirSync(join(objectsDir, prefix));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOTDIR') continue;
      throw ioError(e, 'list', join(objectsDir, prefix));
    }
    for (const name of names) {
      const m = NAME_RE.exec(name);
      if (!m) continue;
      const ext = m[2];
      const type = objectTypeFromExtension(ext);
      if (type === undefined || (type === ObjectType.FILE && ext !== contentExt)) continue;
      out.push({ checksum: prefix + m[1], type, relPath: `objects/${prefix}/${name}` });
    }
  }
  return out;
}

/** A ref that keeps commits alive: a branch, a remote's ref or a mirrored collection ref. */
export interface RootRef {
  readonly kind: 'head' | 'remote' | 'mirror';
  /** The remote (for `remote`) or collection id (for `mirror`). */
  readonly owner?: string;
  readonly name: string;
  readonly checksum: string;
}

/**
 * Every ref of the repository: `refs/heads`, `refs/remotes/<remote>` and
 * `refs/mirrors/<collection-id>`. Throws ERR_REPO_INVALID for a ref file
 * that does not hold a checksum, ERR_IO when a ref cannot be read.
 */
export function listRootRefs(repo: Repo): RootRef[] {
  const out: RootRef[] = [];
  const walkDir = (dir: string, prefix: string, push: (name: string, checksum: string) => void): void => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw ioError(e, 'list', dir);
    }
    for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      const p = join(dir, e.name);
      const name = prefix ? `${prefix}/${e.name}` : e.name;
      if (e.isDirectory()) walkDir(p, name, push);
      else if (!e.name.includes('.tmp-')) {
        let text: string;
        try {
          text = readFileSync(p, 'utf8');
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (code === 'ENOENT' || code === 'EISDIR') continue; // dangling alias or vanished
          throw ioError(err, 'read ref', p);
        }
        const c = text.trim();
        if (!isChecksum(c)) throw new CanopyError('ERR_REPO_INVALID', `ref file ${p} does not hold a checksum`, { path: p });
        push(name, c);
      }
    }
  };
  walkDir(join(repo.path, 'refs/heads'), '', (name, checksum) => out.push({ kind: 'head', name, checksum }));
  for (const kind of ['remote', 'mirror'] as const) {
    const base = join(repo.path, kind === 'remote' ? 'refs/remotes' : 'refs/mirrors');
    let owners: string[] = [];
    try {
      owners = readdirSync(base).sort();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw ioError(e, 'list', base);
    }
    for (const owner of owners) walkDir(join(base, owner), '', (name, checksum) => out.push({ kind, owner, name, checksum }));
  }
  return out;
}
