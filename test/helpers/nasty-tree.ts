/**
 * Builds a small directory tree full of the things that break naive
 * commit, checkout and pull code: empty and multi-megabyte files, symlinks
 * (relative, absolute, dangling, to a directory, to themselves), empty and
 * deeply nested directories, names with spaces, UTF-8, a newline and a
 * backslash, setuid/setgid files, a sticky world-writable directory, a 0555
 * directory with content, a hardlinked pair, a file carrying
 * `security.capability` (as `setcap cap_net_raw+ep` writes it), user.*
 * xattrs on a file and a directory, and (as root) files owned by another
 * user.
 *
 * What the machine cannot do is left out and reported in
 * {@link NastyTree.features}, so a test can adapt its expectations:
 * capabilities need root and `setcap` (Debian package libcap2-bin); user
 * xattrs need file system support; foreign owners need root.
 *
 * @example
 * const t = buildNastyTree();
 * try { await commitTree(repo, t.root, { branch: 'x' }); } finally { t.cleanup(); }
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, lchownSync, linkSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface NastyTreeOptions {
  /** Size of `big.bin` in bytes (default 3 MiB + 17: several read chunks and an odd tail). */
  bigFileSize?: number;
  /** Nesting depth of the `deep/` branch (default 24). */
  depth?: number;
  /** Give some entries uid 4242 / gid 4343 when running as root (default true). */
  foreignOwners?: boolean;
}

/** What was actually created; each feature depends on the machine. */
export interface NastyTreeFeatures {
  /** `bin/ping` carries security.capability (cap_net_raw+ep). */
  capability: boolean;
  /** user.* xattrs are on `xattr/`, `xattr/file`, `with space/file with space.txt` and both `odd/` files. */
  userXattrs: boolean;
  /** `owned/` and its entries belong to uid 4242, gid 4343. */
  foreignOwners: boolean;
}

/** Relative paths of entries tests often look at. */
export const NastyPaths = {
  empty: 'empty',
  big: 'big.bin',
  capability: 'bin/ping',
  setuid: 'bin/su',
  setgid: 'bin/wall',
  stickyDir: 'tmp',
  readOnlyDir: 'ro-dir',
  readOnlyDirFile: 'ro-dir/inside',
  emptyDir: 'empty-dir',
  danglingLink: 'links/dangling',
  absoluteLink: 'links/abs',
  relativeLink: 'links/rel',
  dirLink: 'links/to-dir',
  hardlinkA: 'hardlinks/a',
  hardlinkB: 'hardlinks/b',
  xattrFile: 'xattr/file',
  xattrDir: 'xattr',
  utf8File: 'ünïcødé/文件.txt',
  spaceFile: 'with space/file with space.txt',
  newlineFile: 'odd/new\nline',
  backslashFile: 'odd/back\\slash',
  ownedDir: 'owned',
} as const;

export interface NastyTree {
  /** Absolute path of the tree's root directory (mode 0755). */
  readonly root: string;
  readonly features: NastyTreeFeatures;
  /** Depth of the `deep/` branch; its leaf is `deep/d1/…/d<depth>/leaf.txt`. */
  readonly depth: number;
  /** Removes the tree, and the temporary directory around it when this helper made one. */
  cleanup(): void;
}

/** Deterministic pseudo-random bytes (xorshift32), so checksums are stable across runs. */
export function pseudoRandomBytes(size: number, seed = 0x9e3779b9): Buffer {
  const buf = Buffer.allocUnsafe(size);
  let x = seed >>> 0 || 1;
  let i = 0;
  for (; i + 4 <= size; i += 4) {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    buf.writeUInt32LE(x, i);
  }
  for (; i < size; i++) buf[i] = (x >>> ((i & 3) * 8)) & 0xff;
  return buf;
}

/**
 * Removes a tree (no error when absent). Directories are made writable
 * first when a plain removal fails, so a non-root caller can delete trees
 * with 0555 directories such as the nasty tree and its checkouts.
 */
export function removeTree(path: string): void {
  try {
    rmSync(path, { recursive: true, force: true });
    return;
  } catch {
    // a read-only directory in the way: open it up and retry
  }
  const openUp = (p: string): void => {
    if (!lstatSync(p, { throwIfNoEntry: false })?.isDirectory()) return;
    chmodSync(p, 0o700);
    for (const name of readdirSync(p)) openUp(join(p, name));
  };
  openUp(path);
  rmSync(path, { recursive: true, force: true });
}

function tryRun(cmd: string, args: string[]): boolean {
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  return !r.error && r.status === 0;
}

/**
 * Creates the nasty tree in `parent/tree` (a new temporary directory when
 * `parent` is omitted) and returns where it is and what it holds.
 */
export function buildNastyTree(parent?: string, opts: NastyTreeOptions = {}): NastyTree {
  const madeParent = parent === undefined;
  const base = parent ?? mkdtempSync(join(tmpdir(), 'canopy-nasty-'));
  const root = join(base, 'tree');
  const depth = opts.depth ?? 24;
  const isRoot = process.getuid?.() === 0;
  const p = (rel: string): string => join(root, rel);
  const file = (rel: string, content: string | Buffer, mode = 0o644): void => {
    writeFileSync(p(rel), content);
    chmodSync(p(rel), mode);
  };
  const dir = (rel: string, mode = 0o755): void => {
    mkdirSync(p(rel), { recursive: true });
    chmodSync(p(rel), mode);
  };

  dir('');
  file('hello.txt', 'hello\n');
  file(NastyPaths.empty, '');
  file(NastyPaths.big, pseudoRandomBytes(opts.bigFileSize ?? 3 * 1024 * 1024 + 17));
  dir('etc');
  file('etc/empty-too', '', 0o600);
  file('etc/readonly', 'read only\n', 0o444);
  file('etc/secret', 'owner only\n', 0o600);
  dir('bin');
  file(NastyPaths.capability, '#!/bin/sh\necho ping\n', 0o755);
  file(NastyPaths.setuid, '#!/bin/sh\necho su\n', 0o4755);
  file(NastyPaths.setgid, '#!/bin/sh\necho wall\n', 0o2755);
  dir(NastyPaths.stickyDir, 0o1777);
  dir(NastyPaths.readOnlyDir);
  file(NastyPaths.readOnlyDirFile, 'in a read-only directory\n');
  chmodSync(p(NastyPaths.readOnlyDir), 0o555);
  dir('private', 0o700);
  file('private/note', 'private\n', 0o600);
  dir(NastyPaths.emptyDir);
  dir('empty-dir2/nested-empty');
  let deep = 'deep';
  for (let i = 1; i <= depth; i++) deep += `/d${i}`;
  dir(deep);
  file(`${deep}/leaf.txt`, 'at the bottom\n');
  dir('with space');
  file(NastyPaths.spaceFile, 'spaces\n');
  dir('ünïcødé');
  file(NastyPaths.utf8File, 'utf-8 名前\n');
  dir('odd');
  file(NastyPaths.newlineFile, 'newline in the name\n');
  file(NastyPaths.backslashFile, 'backslash in the name\n');
  file('odd/equals=sign', 'equals\n');
  dir('links');
  symlinkSync('../hello.txt', p(NastyPaths.relativeLink));
  symlinkSync('/etc/passwd', p(NastyPaths.absoluteLink));
  symlinkSync('does/not/exist', p(NastyPaths.danglingLink));
  symlinkSync('../deep', p(NastyPaths.dirLink));
  symlinkSync('self', p('links/self'));
  symlinkSync('../ünïcødé/文件.txt', p('links/utf8 target'));
  dir('hardlinks');
  file(NastyPaths.hardlinkA, 'two names, one inode\n');
  linkSync(p(NastyPaths.hardlinkA), p(NastyPaths.hardlinkB));
  dir(NastyPaths.xattrDir);
  file(NastyPaths.xattrFile, 'has attributes\n');

  const features: NastyTreeFeatures = { capability: false, userXattrs: false, foreignOwners: false };
  features.userXattrs =
    tryRun('setfattr', ['-n', 'user.canopy.test', '-v', 'hello', p(NastyPaths.xattrFile)]) &&
    tryRun('setfattr', ['-n', 'user.canopy.binary', '-v', '0x00ff10ab', p(NastyPaths.xattrFile)]) &&
    tryRun('setfattr', ['-n', 'user.canopy.dir', '-v', 'dir attribute', p(NastyPaths.xattrDir)]) &&
    tryRun('setfattr', ['-n', 'user.canopy.space', '-v', 'with space', p(NastyPaths.spaceFile)]) &&
    tryRun('setfattr', ['-n', 'user.canopy.odd', '-v', 'newline', p(NastyPaths.newlineFile)]) &&
    tryRun('setfattr', ['-n', 'user.canopy.odd', '-v', 'backslash', p(NastyPaths.backslashFile)]);
  features.capability = isRoot && tryRun('setcap', ['cap_net_raw+ep', p(NastyPaths.capability)]);
  if (isRoot && opts.foreignOwners !== false) {
    dir(NastyPaths.ownedDir, 0o750);
    file(`${NastyPaths.ownedDir}/by-4242`, 'owned by someone else\n', 0o640);
    symlinkSync('by-4242', p(`${NastyPaths.ownedDir}/link`));
    chownSync(p(`${NastyPaths.ownedDir}/by-4242`), 4242, 4343);
    lchownSync(p(`${NastyPaths.ownedDir}/link`), 4242, 4343);
    chownSync(p(NastyPaths.ownedDir), 4242, 4343);
    features.foreignOwners = true;
  }
  return {
    root,
    features,
    depth,
    cleanup: () => removeTree(madeParent ? base : root),
  };
}
