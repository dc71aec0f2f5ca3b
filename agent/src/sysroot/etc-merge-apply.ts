/**
 * Running the `/etc` merge on disk: snapshots the three trees (lstat walks),
 * compares file contents on demand, plans with etc-merge.ts and executes the
 * plan through {@link SysrootFs}. Extended attributes of everything copied
 * are carried over with one getfattr and one setfattr (after ownership, which
 * would otherwise clear file capabilities).
 */
import { closeSync, lstatSync, openSync, readdirSync, readlinkSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { ioError } from '../core/errors';
import type { Xattr } from '../objects/index';
import { applyXattrs, readXattrsOf } from '../repo/xattr-io';
import { diffEtc, planEtcMerge, type EtcNode, type EtcNodeType, type EtcPlan } from './etc-merge';
import type { SysrootFs } from './sysroot-fs';

/** Most entries read from one /etc tree. */
export const MAX_ETC_ENTRIES = 1_000_000;

function nodeType(st: ReturnType<typeof lstatSync> & object): EtcNodeType {
  if (st.isFile()) return 'file';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isDirectory()) return 'dir';
  return 'special';
}

/** Reads a directory tree into a snapshot (symlinks not followed); an absent root is an empty tree. */
export function snapshotEtc(root: string): Map<string, EtcNode> {
  const out = new Map<string, EtcNode>();
  const walk = (dir: string, rel: string): void => {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch (e) {
      if (rel === '' && (e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw ioError(e, 'read directory', dir);
    }
    for (const name of names) {
      const p = join(dir, name);
      const r = rel === '' ? name : `${rel}/${name}`;
      const st = lstatSync(p);
      const type = nodeType(st);
      const node: EtcNode = { type, mode: st.mode, uid: st.uid, gid: st.gid, size: st.size };
      if (type === 'symlink') node.target = readlinkSync(p);
      out.set(r, node);
      if (out.size > MAX_ETC_ENTRIES) throw ioError(new Error(`more than ${MAX_ETC_ENTRIES} entries`), 'read', root);
      if (type === 'dir') walk(p, r);
    }
  };
  walk(root, '');
  return out;
}

/** True when two regular files have the same bytes (same inode counts as same). */
export function sameFileContent(a: string, b: string): boolean {
  const sa = lstatSync(a);
  const sb = lstatSync(b);
  if (sa.dev === sb.dev && sa.ino === sb.ino) return true;
  if (sa.size !== sb.size) return false;
  const fa = openSync(a, 'r');
  try {
    const fb = openSync(b, 'r');
    try {
      const ba = Buffer.allocUnsafe(1 << 16);
      const bb = Buffer.allocUnsafe(1 << 16);
      for (;;) {
        const na = readSync(fa, ba, 0, ba.length, null);
        const nb = readSync(fb, bb, 0, bb.length, null);
        if (na !== nb || !ba.subarray(0, na).equals(bb.subarray(0, nb))) return false;
        if (na === 0) return true;
      }
    } finally {
      closeSync(fb);
    }
  } finally {
    closeSync(fa);
  }
}

export interface EtcMergeOptions {
  /** Copy extended attributes of copied entries (default true; needs getfattr/setfattr). */
  xattrs?: boolean;
}

/**
 * Computes the merge plan for merge deployment `mergeRoot` into the new
 * deployment `newRoot` (both deployment directories; `newRoot/etc` must
 * already be the copy of `newRoot/usr/etc`). Throws ERR_ETC_MERGE_CONFLICT, ERR_IO.
 */
export function planEtcMergeOnDisk(mergeRoot: string, newRoot: string): EtcPlan {
  const origEtc = join(mergeRoot, 'usr/etc');
  const localEtc = join(mergeRoot, 'etc');
  const orig = snapshotEtc(origEtc);
  const local = snapshotEtc(localEtc);
  const diff = diffEtc(orig, local, (p) => sameFileContent(join(origEtc, p), join(localEtc, p)));
  return planEtcMerge(diff, local, snapshotEtc(join(newRoot, 'etc')));
}

/** Executes a plan: `localEtc` is the merge deployment's `etc`, `newEtc` the new deployment's. */
export function applyEtcPlan(fs: SysrootFs, plan: EtcPlan, localEtc: string, newEtc: string, opts: EtcMergeOptions = {}): void {
  const attrSources: Array<[string, string]> = [];
  for (const op of plan.ops) {
    const src = join(localEtc, op.path);
    const dst = join(newEtc, op.path);
    switch (op.op) {
      case 'remove':
        fs.rmrf(dst);
        break;
      case 'unlink':
        fs.unlink(dst);
        break;
      case 'mkdir':
      case 'attrs': {
        if (op.op === 'mkdir') fs.mkdir(dst, 0o700);
        const st = lstatSync(src);
        fs.setOwnerMode(dst, st.uid, st.gid, st.mode);
        attrSources.push([src, dst]);
        break;
      }
      case 'copy':
        fs.copyEntry(src, dst);
        attrSources.push([src, dst]);
        break;
      case 'skip':
        break;
    }
  }
  if ((opts.xattrs ?? true) && attrSources.length > 0) {
    const found = readXattrsOf(attrSources.map(([s]) => s));
    const apply: Array<[string, Xattr[]]> = [];
    for (const [s, d] of attrSources) {
      const x = found.get(s);
      if (x && x.length > 0) apply.push([d, x]);
    }
    if (apply.length > 0) {
      applyXattrs(apply);
      fs.step('setfattr', newEtc);
    }
  }
}

/**
 * Merges the merge deployment's local `/etc` changes into the new
 * deployment, as `ostree admin deploy` does. Returns the plan that ran.
 * Throws ERR_ETC_MERGE_CONFLICT, ERR_XATTR, ERR_IO.
 */
export function mergeEtc(fs: SysrootFs, mergeRoot: string, newRoot: string, opts: EtcMergeOptions = {}): EtcPlan {
  const plan = planEtcMergeOnDisk(mergeRoot, newRoot);
  applyEtcPlan(fs, plan, join(mergeRoot, 'etc'), join(newRoot, 'etc'), opts);
  return plan;
}
