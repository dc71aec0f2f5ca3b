/**
 * The `/etc` three-way merge, as ostree 2022.7 does it (`merge_configuration_from`):
 *
 * 1. The new deployment's `etc` starts as a copy of its `usr/etc` (the new defaults).
 * 2. The merge deployment's `usr/etc` (old defaults) is diffed against its
 *    `etc` (the local configuration), ignoring extended attributes; two
 *    entries differ when their type, owner, mode, symlink target or content
 *    differ.
 * 3. Removed locally -> `rm -rf` in the new `etc`.
 * 4. Modified or added locally -> copied from the old `etc` over the new
 *    default (whole directories recursively; missing parent directories are
 *    created from the old `etc`'s, and an existing parent takes the old
 *    `etc` parent's owner and mode). A local file or symlink where the new
 *    default is a directory is a conflict (ERR_ETC_MERGE_CONFLICT). A
 *    locally modified directory where the new default also has a directory
 *    changes nothing itself (its children are merged one by one). Special
 *    files (fifos, sockets, devices) are not copied.
 * 5. Everything not changed locally follows the new defaults.
 *
 * This file is pure: {@link diffEtc} and {@link planEtcMerge} work on
 * snapshots ({@link EtcTree}); etc-merge-apply.ts reads the trees and runs
 * the plan.
 *
 * Differences from ostree, on purpose: a path whose parent in the new `etc`
 * is a symlink is never written or removed through it (ostree follows the
 * symlink); the conflict is reported instead, and a removal there is skipped.
 */
import { CanopyError } from '../core/errors';

export type EtcNodeType = 'file' | 'symlink' | 'dir' | 'special';

/** One entry of a snapshot. */
export interface EtcNode {
  type: EtcNodeType;
  /** Full st_mode (type and permission bits). */
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** A symlink's target. */
  target?: string;
}

/** A directory snapshot: relative path (`a/b`, no leading slash; the root itself excluded) -> entry. */
export type EtcTree = ReadonlyMap<string, EtcNode>;

export interface EtcDiff {
  /** Type or attributes or content changed (directories before their children). */
  modified: string[];
  /** In the old defaults, not in the local configuration. */
  removed: string[];
  /** Only in the local configuration (a directory, then everything below it). */
  added: string[];
}

function childrenIndex(tree: EtcTree): Map<string, string[]> {
  const idx = new Map<string, string[]>();
  for (const p of tree.keys()) {
    const slash = p.lastIndexOf('/');
    const parent = slash < 0 ? '' : p.slice(0, slash);
    let list = idx.get(parent);
    if (!list) idx.set(parent, (list = []));
    list.push(p);
  }
  for (const list of idx.values()) list.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  return idx;
}

function sameNode(a: EtcNode, b: EtcNode, path: string, sameContent: (path: string) => boolean): boolean {
  if (a.mode !== b.mode || a.uid !== b.uid || a.gid !== b.gid) return false;
  if (a.type === 'symlink') return a.target === b.target;
  if (a.type === 'file') return a.size === b.size && sameContent(path);
  return true;
}

/**
 * Diffs the old defaults against the local configuration. `sameContent`
 * compares the content of a regular file present in both with equal size
 * and attributes.
 */
export function diffEtc(orig: EtcTree, local: EtcTree, sameContent: (path: string) => boolean): EtcDiff {
  const diff: EtcDiff = { modified: [], removed: [], added: [] };
  const oIdx = childrenIndex(orig);
  const lIdx = childrenIndex(local);
  const addAll = (dir: string): void => {
    for (const p of lIdx.get(dir) ?? []) {
      diff.added.push(p);
      if (local.get(p)!.type === 'dir') addAll(p);
    }
  };
  const walk = (dir: string): void => {
    for (const p of oIdx.get(dir) ?? []) {
      const a = orig.get(p)!;
      const b = local.get(p);
      if (!b) diff.removed.push(p);
      else if (a.type !== b.type) diff.modified.push(p);
      else {
        if (!sameNode(a, b, p, sameContent)) diff.modified.push(p);
        if (a.type === 'dir') walk(p);
      }
    }
    for (const p of lIdx.get(dir) ?? []) {
      if (orig.has(p)) continue;
      diff.added.push(p);
      if (local.get(p)!.type === 'dir') addAll(p);
    }
  };
  walk('');
  return diff;
}

/** One step of the merge, on the new deployment's `etc`. Paths are relative to it. */
export type EtcOp =
  /** `rm -rf`. */
  | { op: 'remove'; path: string }
  /** Create the directory (mode 0700 first), then give it the local directory's owner and mode. */
  | { op: 'mkdir'; path: string }
  /** Give an existing directory the local directory's owner and mode. */
  | { op: 'attrs'; path: string }
  /** Remove a file or symlink that a local change replaces. */
  | { op: 'unlink'; path: string }
  /** Copy a file or symlink from the local configuration (content, owner, mode, times). */
  | { op: 'copy'; path: string }
  /** A special file in the local configuration: not copied. */
  | { op: 'skip'; path: string };

export interface EtcPlan {
  ops: EtcOp[];
  /** What ostree reports: "Copying /etc changes: N modified, N removed, N added". */
  counts: { modified: number; removed: number; added: number };
}

function parentOf(p: string): string {
  const i = p.lastIndexOf('/');
  return i < 0 ? '' : p.slice(0, i);
}

function conflict(path: string, why: string): CanopyError {
  return new CanopyError('ERR_ETC_MERGE_CONFLICT', `/etc merge: ${path}: ${why}`, { path });
}

/**
 * Plans the merge of `diff` (from {@link diffEtc}) into the new defaults
 * `fresh` (the new deployment's `etc`, a copy of its `usr/etc`), copying
 * from `local`. Throws ERR_ETC_MERGE_CONFLICT.
 */
export function planEtcMerge(diff: EtcDiff, local: EtcTree, fresh: EtcTree): EtcPlan {
  const state = new Map<string, EtcNodeType>();
  for (const [p, n] of fresh) state.set(p, n.type);
  const lIdx = childrenIndex(local);
  const ops: EtcOp[] = [];
  // Paths already copied from the local configuration (the children of an
  // added directory come again in the diff; ostree copies them twice, with
  // the same result).
  const copied = new Set<string>();

  const dropSubtree = (p: string): void => {
    state.delete(p);
    const prefix = `${p}/`;
    for (const k of [...state.keys()]) if (k.startsWith(prefix)) state.delete(k);
  };
  const parentsAreDirs = (p: string): boolean => {
    for (let q = parentOf(p); q !== ''; q = parentOf(q)) if (state.get(q) !== 'dir') return false;
    return true;
  };
  const ensureDir = (dir: string): void => {
    const t = state.get(dir);
    if (t !== undefined) {
      if (t !== 'dir') throw conflict(dir, `the new default is a ${t === 'symlink' ? 'symbolic link' : 'file'} where the local configuration has a directory`);
      ops.push({ op: 'attrs', path: dir });
      return;
    }
    const parent = parentOf(dir);
    if (parent !== '' && !state.has(parent)) ensureDir(parent);
    else if (parent !== '' && state.get(parent) !== 'dir') throw conflict(parent, 'the new default is not a directory where the local configuration has one');
    ops.push({ op: 'mkdir', path: dir });
    state.set(dir, 'dir');
  };
  const copyTree = (p: string): void => {
    const n = local.get(p)!;
    copied.add(p);
    if (n.type === 'dir') {
      ops.push({ op: 'mkdir', path: p });
      state.set(p, 'dir');
      for (const c of lIdx.get(p) ?? []) copyTree(c);
    } else if (n.type === 'special') {
      ops.push({ op: 'skip', path: p });
    } else {
      ops.push({ op: 'copy', path: p });
      state.set(p, n.type);
    }
  };
  const copyModified = (p: string): void => {
    const n = local.get(p);
    if (!n) throw conflict(p, 'not in the local configuration');
    if (copied.has(p)) return;
    const parent = parentOf(p);
    if (parent !== '') ensureDir(parent);
    const t = state.get(p);
    if (t === 'dir') {
      if (n.type !== 'dir') throw conflict(p, 'the new default is a directory, the local configuration has a file here; cannot merge');
      return;
    }
    if (t !== undefined) {
      ops.push({ op: 'unlink', path: p });
      state.delete(p);
    }
    copyTree(p);
  };

  for (const p of diff.removed) {
    if (state.has(p) && parentsAreDirs(p)) {
      ops.push({ op: 'remove', path: p });
      dropSubtree(p);
    }
  }
  for (const p of diff.modified) copyModified(p);
  for (const p of diff.added) copyModified(p);
  return { ops, counts: { modified: diff.modified.length, removed: diff.removed.length, added: diff.added.length } };
}
