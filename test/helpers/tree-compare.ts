/**
 * Compares two directory trees the way a checkout must reproduce a source
 * tree: entry type, permission bits, owner (optional), content sha256,
 * symlink target and extended attributes. Timestamps and inode numbers are
 * ignored. Extended attributes come from one `getfattr --dump` per tree
 * (Debian package "attr"), parsed here independently of the code under test.
 *
 * @example
 * assertTreesEqual(source, checkoutDir, { owner: false, modeMask: 0o755, xattrs: false });
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';

export type EntryType = 'dir' | 'file' | 'symlink' | 'other';

/** One entry of a {@link snapshotTree}. */
export interface TreeEntry {
  /** Path relative to the tree root; `''` is the root itself. */
  readonly path: string;
  readonly type: EntryType;
  /** Permission bits (`st_mode & 07777`). */
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly nlink: number;
  readonly ino: number;
  /** sha256 of a regular file's content. */
  readonly sha256?: string;
  /** A symlink's target. */
  readonly target?: string;
  /** Extended attributes, name -> hex value (empty when none or not read). */
  readonly xattrs: ReadonlyMap<string, string>;
}

/**
 * Reads the extended attributes of every entry below `root` (symlinks not
 * followed) with one getfattr process. Returns relative path -> (name -> hex
 * value); entries without attributes are absent.
 */
export function readXattrDump(root: string): Map<string, Map<string, string>> {
  const r = spawnSync('getfattr', ['--absolute-names', '-R', '-P', '-h', '-d', '-m', '-', '-e', 'hex', '--', root], { maxBuffer: 1 << 28 });
  if (r.error) throw new Error(`getfattr is not available (Debian package "attr"): ${r.error.message}`);
  if (r.status !== 0) throw new Error(`getfattr ${root} failed: ${r.stderr.toString()}`);
  const out = new Map<string, Map<string, string>>();
  let current: Map<string, string> | undefined;
  for (const line of r.stdout.toString('latin1').split('\n')) {
    if (line.startsWith('# file: ')) {
      const abs = unquote(line.slice(8));
      const rel = abs === root ? '' : abs.slice(root.length + 1);
      current = new Map();
      out.set(rel, current);
    } else if (current && line.length > 0) {
      const eq = line.indexOf('=');
      const name = unquote(eq < 0 ? line : line.slice(0, eq));
      const value = eq < 0 ? '' : line.slice(eq + 1);
      current.set(name, value.startsWith('0x') ? value.slice(2).toLowerCase() : Buffer.from(value, 'latin1').toString('hex'));
    }
  }
  for (const [k, v] of out) if (v.size === 0) out.delete(k);
  return out;
}

/** getfattr writes bytes it does not print as `\ooo`. */
function unquote(s: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '\\' && /^[0-7]{3}$/.test(s.slice(i + 1, i + 4))) {
      bytes.push(parseInt(s.slice(i + 1, i + 4), 8));
      i += 3;
    } else bytes.push(s.charCodeAt(i) & 0xff);
  }
  return Buffer.from(bytes).toString('utf8');
}

/** Walks `root` with lstat (never following symlinks). */
export function snapshotTree(root: string, opts: { xattrs?: boolean } = {}): Map<string, TreeEntry> {
  const xattrs = opts.xattrs === false ? new Map<string, Map<string, string>>() : readXattrDump(root);
  const out = new Map<string, TreeEntry>();
  const visit = (rel: string): void => {
    const abs = rel === '' ? root : join(root, rel);
    const st = lstatSync(abs);
    const type: EntryType = st.isDirectory() ? 'dir' : st.isFile() ? 'file' : st.isSymbolicLink() ? 'symlink' : 'other';
    out.set(rel, {
      path: rel,
      type,
      mode: st.mode & 0o7777,
      uid: st.uid,
      gid: st.gid,
      nlink: st.nlink,
      ino: st.ino,
      sha256: type === 'file' ? createHash('sha256').update(readFileSync(abs)).digest('hex') : undefined,
      target: type === 'symlink' ? readlinkSync(abs, 'utf8') : undefined,
      xattrs: xattrs.get(rel) ?? new Map(),
    });
    if (type === 'dir') for (const name of readdirSync(abs).sort()) visit(rel === '' ? name : `${rel}/${name}`);
  };
  visit('');
  return out;
}

export interface CompareOptions {
  /** Compare uid and gid (default true). */
  owner?: boolean;
  /** Compare extended attributes (default true). */
  xattrs?: boolean;
  /** Skip attributes whose name this returns true for (e.g. `security.selinux`). */
  ignoreXattr?: (name: string) => boolean;
  /** Permission bits compared, on both sides (default 07777; 0755 for a bare-user-only round trip). */
  modeMask?: number;
  /** Leave the root directory's mode and owner out (e.g. a subpath or union checkout). */
  ignoreRoot?: boolean;
  /** Skip these relative paths (and everything below them). */
  ignore?: (path: string) => boolean;
  /** Rewrites the mode expected for an entry (after `modeMask`), e.g. setuid stripped in user mode. */
  expectMode?: (entry: TreeEntry) => number;
}

/**
 * Lists every difference between the `expected` and `actual` trees as
 * readable lines (`"bin/ping: xattr security.capability missing"`); empty
 * when they match.
 */
export function compareTrees(expected: string, actual: string, opts: CompareOptions = {}): string[] {
  const wantX = opts.xattrs !== false;
  const a = snapshotTree(expected, { xattrs: wantX });
  const b = snapshotTree(actual, { xattrs: wantX });
  const mask = opts.modeMask ?? 0o7777;
  const skip = (p: string): boolean => !!opts.ignore && p.split('/').some((_, i, parts) => opts.ignore!(parts.slice(0, i + 1).join('/')));
  const diffs: string[] = [];
  const show = (p: string): string => JSON.stringify(p === '' ? '/' : p);
  for (const [p, ea] of a) {
    if (skip(p)) continue;
    const eb = b.get(p);
    if (!eb) {
      diffs.push(`${show(p)}: missing (${ea.type})`);
      continue;
    }
    if (ea.type !== eb.type) {
      diffs.push(`${show(p)}: type ${ea.type} expected, found ${eb.type}`);
      continue;
    }
    const root = p === '' && opts.ignoreRoot;
    if (ea.type !== 'symlink' && !root) {
      const want = opts.expectMode ? opts.expectMode({ ...ea, mode: ea.mode & mask }) : ea.mode & mask;
      if (want !== (eb.mode & mask)) diffs.push(`${show(p)}: mode 0${want.toString(8)} expected, found 0${(eb.mode & mask).toString(8)}`);
    }
    if (opts.owner !== false && !root && (ea.uid !== eb.uid || ea.gid !== eb.gid)) {
      diffs.push(`${show(p)}: owner ${ea.uid}:${ea.gid} expected, found ${eb.uid}:${eb.gid}`);
    }
    if (ea.sha256 !== eb.sha256) diffs.push(`${show(p)}: content differs`);
    if (ea.target !== eb.target) diffs.push(`${show(p)}: symlink target ${JSON.stringify(ea.target)} expected, found ${JSON.stringify(eb.target)}`);
    if (wantX && !root) {
      const keep = (n: string): boolean => !opts.ignoreXattr?.(n);
      for (const [n, v] of ea.xattrs) {
        if (!keep(n)) continue;
        const w = eb.xattrs.get(n);
        if (w === undefined) diffs.push(`${show(p)}: xattr ${n} missing`);
        else if (w !== v) diffs.push(`${show(p)}: xattr ${n} is 0x${w}, expected 0x${v}`);
      }
      for (const n of eb.xattrs.keys()) if (keep(n) && !ea.xattrs.has(n)) diffs.push(`${show(p)}: unexpected xattr ${n}`);
    }
  }
  for (const p of b.keys()) if (!a.has(p) && !skip(p)) diffs.push(`${show(p)}: unexpected (${b.get(p)!.type})`);
  return diffs;
}

/** Throws an AssertionError listing (up to 40) differences when the trees differ. */
export function assertTreesEqual(expected: string, actual: string, opts: CompareOptions = {}): void {
  const diffs = compareTrees(expected, actual, opts);
  if (diffs.length > 0) {
    assert.fail(`${actual} differs from ${expected} in ${diffs.length} place(s):\n  ${diffs.slice(0, 40).join('\n  ')}`);
  }
}
