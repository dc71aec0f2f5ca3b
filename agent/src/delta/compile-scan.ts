/**
 * What the delta generator needs to know about two commits: which objects
 * the target reaches that the source does not, and for file objects their
 * paths (pairing looks at names) and sizes (pairing and fallbacks look at
 * sizes). Sizes come from the object's header only (an archive `.filez` is
 * not inflated for that; a bare object is lstat'ed), so scanning a commit
 * costs one small read per file object that pairing asks about.
 *
 * Operator side.
 */
import { closeSync, lstatSync, openSync, readSync } from 'node:fs';
import { CanopyError, ioError } from '../core/errors';
import { ObjectType, fileChecksum, isLinkMode, parseArchiveHeader, type FileHeader } from '../objects/index';
import { readXattrsOf, type Repo } from '../repo/index';

/** The tree of one commit, by object. */
export interface CommitScan {
  readonly commit: string;
  /** Dirtree and dirmeta checksums, keyed `<checksum>.<type>`. */
  readonly metadata: Map<string, { checksum: string; type: ObjectType }>;
  /** File object checksum -> the paths it appears at (`/usr/bin/ls`, in walk order). */
  readonly files: Map<string, string[]>;
}

/** Most entries (files and directories, counted per path) a scan walks. */
export const MAX_SCAN_ENTRIES = 20_000_000;

/**
 * Walks the whole tree of `commit`. Throws as the repository's loaders
 * (ERR_OBJECT_NOT_FOUND, ERR_CHECKSUM_MISMATCH, …), and ERR_TREE_TOO_LARGE
 * past {@link MAX_SCAN_ENTRIES} (a tree whose shared subtrees expand without end).
 */
export function scanCommit(repo: Repo, commit: string): CommitScan {
  const c = repo.loadCommit(commit);
  const metadata = new Map<string, { checksum: string; type: ObjectType }>();
  const files = new Map<string, string[]>();
  const addMeta = (checksum: string, type: ObjectType): boolean => {
    const key = `${checksum}.${type}`;
    if (metadata.has(key)) return false;
    metadata.set(key, { checksum, type });
    return true;
  };
  addMeta(c.rootMeta, ObjectType.DIR_META);
  // A dirtree reached twice is walked once per path, so every path of every file is known.
  const stack: Array<{ tree: string; path: string }> = [{ tree: c.rootTree, path: '' }];
  addMeta(c.rootTree, ObjectType.DIR_TREE);
  let entries = 0;
  while (stack.length > 0) {
    const { tree, path } = stack.pop()!;
    const dt = repo.loadDirTree(tree);
    entries += dt.files.length + dt.dirs.length;
    if (entries > MAX_SCAN_ENTRIES) {
      throw new CanopyError('ERR_TREE_TOO_LARGE', `commit ${commit} expands to more than ${MAX_SCAN_ENTRIES} paths`, { commit });
    }
    for (const f of dt.files) {
      const p = `${path}/${f.name}`;
      const list = files.get(f.checksum);
      if (list) list.push(p);
      else files.set(f.checksum, [p]);
    }
    for (const d of dt.dirs) {
      addMeta(d.meta, ObjectType.DIR_META);
      addMeta(d.tree, ObjectType.DIR_TREE);
      stack.push({ tree: d.tree, path: `${path}/${d.name}` });
    }
  }
  return { commit, metadata, files };
}

export interface ContentStat {
  /** Content size (0 for symlinks). */
  readonly size: number;
  readonly isLink: boolean;
  readonly mode: number;
}

/** Reads and caches file objects' sizes and types from their headers. */
export class ContentStats {
  private readonly cache = new Map<string, ContentStat>();
  private readonly buf = Buffer.allocUnsafe(4096);

  constructor(private readonly repo: Repo) {}

  /** Throws ERR_IO (ENOENT included) or ERR_OBJECT_INVALID. */
  get(checksum: string): ContentStat {
    let s = this.cache.get(checksum);
    if (!s) {
      s = this.read(checksum);
      this.cache.set(checksum, s);
    }
    return s;
  }

  private read(checksum: string): ContentStat {
    const path = this.repo.objectPath(checksum, ObjectType.FILE);
    if (this.repo.mode !== 'archive') {
      let st;
      try {
        st = lstatSync(path);
      } catch (e) {
        throw ioError(e, 'stat', path);
      }
      return st.isSymbolicLink() ? { size: 0, isLink: true, mode: 0o120777 } : { size: st.size, isLink: false, mode: st.mode };
    }
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (e) {
      throw ioError(e, 'open', path);
    }
    try {
      let buf: Buffer = this.buf;
      for (;;) {
        const n = readSync(fd, buf, 0, buf.length, 0);
        // The header declares its length in its first 4 bytes (big-endian).
        const need = n >= 4 ? 8 + buf.readUInt32BE(0) : 8;
        if (need > n && n === buf.length) {
          buf = Buffer.allocUnsafe(need);
          continue;
        }
        const { header } = parseArchiveHeader(buf.subarray(0, n));
        return { size: header.size, isLink: isLinkMode(header.mode), mode: header.mode };
      }
    } finally {
      closeSync(fd);
    }
  }
}

/** Reads file objects with their full headers, verified against their names. */
export class ContentReader {
  private xattrs = new Map<string, FileHeader['xattrs']>();

  constructor(private readonly repo: Repo) {}

  /** Bare repositories keep xattrs on the object files: read them in batches up front. */
  prefetchXattrs(checksums: Iterable<string>): void {
    if (this.repo.mode !== 'bare') return;
    const paths = [...checksums].map((c) => this.repo.objectPath(c, ObjectType.FILE));
    const got = readXattrsOf(paths);
    for (const c of checksums) this.xattrs.set(c, got.get(this.repo.objectPath(c, ObjectType.FILE)) ?? []);
  }

  read(checksum: string): { header: FileHeader; content: Buffer } {
    if (this.repo.mode !== 'bare') return this.repo.readFileObject(checksum, true);
    const o = this.repo.readFileObject(checksum, false);
    const header: FileHeader = { ...o.header, xattrs: this.xattrs.get(checksum) ?? [] };
    const actual = fileChecksum(header, o.content);
    if (actual !== checksum) {
      throw new CanopyError('ERR_CHECKSUM_MISMATCH', `file object ${checksum} in ${this.repo.path} hashes to ${actual}: the repository is corrupt (run fsck)`, { checksum, actual });
    }
    return { header, content: o.content };
  }

  /** Content only, unverified (old objects: what is produced from them is verified by the client). */
  content(checksum: string): Buffer {
    return this.repo.readFileObject(checksum, false).content;
  }
}
