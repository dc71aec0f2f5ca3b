/**
 * Commits a directory tree: scan it, hash every file as OSTree does, store
 * the objects that are missing, build dirtrees and dirmetas bottom-up, write
 * the commit, and (last) move the branch. Reading and hashing run on the
 * main thread with synchronous reads (the fastest way to read many small
 * files in Node); DEFLATE for archive repos runs on the libuv pool, so both
 * cores work.
 */
import { createHash } from 'node:crypto';
import { createReadStream, lstatSync, readdirSync, readFileSync, readlinkSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { CanopyError, ioError } from '../core/errors';
import { assertRef, assertSafeName } from '../core/names';
import { hashFileInto } from '../platform/hash-file';
import { variant, type VarDict } from '../gvariant/index';
import {
  ObjectType, S_IFDIR, S_IFLNK, S_IFREG, fileHeaderBytes, serializeCommit, serializeDirMeta, serializeDirTree,
  type DirTreeDir, type DirTreeFile, type FileHeader, type Xattr,
} from '../objects/index';
import { readRef, writeRef } from './refs';
import type { Repo } from './repo';
import { Transaction } from './transaction';
import { readTreeXattrs } from './xattr-io';

export interface CommitProgress {
  filesDone: number;
  filesTotal: number;
  bytesDone: number;
  bytesTotal: number;
}

export interface CommitOptions {
  /** Branch to move to the new commit (`-b`); none for an orphan commit. */
  branch?: string;
  subject?: string;
  body?: string;
  /** Seconds since the epoch; default now. */
  timestamp?: number;
  /** Parent commit; default the branch's current commit; null for none. */
  parent?: string | null;
  /** Metadata in order (OSTree puts `--add-metadata-string` first, then `--add-metadata`). */
  metadata?: VarDict;
  /** Add `ostree.ref-binding` (and `ostree.collection-binding`) as `ostree commit` does (default true). */
  bindings?: boolean;
  ownerUid?: number;
  ownerGid?: number;
  /** Store uid/gid 0 and permissions masked with 0755, no xattrs (forced for bare-user-only). */
  canonicalPermissions?: boolean;
  /** Do not read or store extended attributes. */
  noXattrs?: boolean;
  onProgress?: (p: CommitProgress) => void;
  /** Files larger than this many bytes are streamed instead of read whole (default 64 MiB). */
  largeFileThreshold?: number;
}

export interface CommitResult {
  checksum: string;
  /** The commit object's bytes, e.g. to sign them. */
  commitBytes: Buffer;
  files: number;
  dirs: number;
  symlinks: number;
  /** Objects this commit added to the repository. */
  objectsWritten: number;
  /** Bytes of regular-file content in the tree. */
  contentBytes: number;
}

/** Files larger than this are streamed instead of read whole. */
const STREAM_THRESHOLD = 64 << 20;
/** Archive compressions kept in flight on the libuv pool. */
const MAX_IN_FLIGHT = 8;

interface FileNode { name: string; path: string; st: Stats }
interface DirNode { name: string; path: string; st: Stats; files: FileNode[]; dirs: DirNode[] }

function scan(path: string, name: string, st: Stats, counts: { files: number; bytes: number }): DirNode {
  const node: DirNode = { name, path, st, files: [], dirs: [] };
  let entries: string[];
  try {
    entries = readdirSync(path);
  } catch (e) {
    throw ioError(e, 'read directory', path);
  }
  for (const child of entries) {
    assertSafeName(child, `file name in ${path}`);
    const p = join(path, child);
    let cst: Stats;
    try {
      cst = lstatSync(p);
    } catch (e) {
      throw ioError(e, 'stat', p);
    }
    if (cst.isDirectory()) node.dirs.push(scan(p, child, cst, counts));
    else if (cst.isFile() || cst.isSymbolicLink()) {
      node.files.push({ name: child, path: p, st: cst });
      counts.files++;
      if (cst.isFile()) counts.bytes += cst.size;
    } else {
      throw new CanopyError('ERR_FILE_TYPE', `${p} is a device, socket or fifo; OSTree stores only regular files, symlinks and directories`, { path: p });
    }
  }
  return node;
}

/**
 * Commits the directory `srcDir` into `repo`. Throws ERR_FILE_TYPE for
 * special files, ERR_UNSAFE_NAME for names OSTree cannot store,
 * ERR_FILE_CHANGED when a file changes while being read, ERR_IO/ERR_NO_SPACE
 * from the file system. On any error nothing is added and no ref moves.
 */
export async function commitTree(repo: Repo, srcDir: string, opts: CommitOptions = {}): Promise<CommitResult> {
  if (opts.branch !== undefined) assertRef(opts.branch);
  const canonical = opts.canonicalPermissions || repo.mode === 'bare-user-only';
  const wantXattrs = !canonical && !opts.noXattrs;
  let rootSt: Stats;
  try {
    rootSt = lstatSync(srcDir);
  } catch (e) {
    throw ioError(e, 'stat', srcDir);
  }
  if (!rootSt.isDirectory()) throw new CanopyError('ERR_INVALID_ARGUMENT', `${srcDir} is not a directory`, { path: srcDir });
  const counts = { files: 0, bytes: 0 };
  const root = scan(srcDir, '', rootSt, counts);
  const xattrs = wantXattrs ? readTreeXattrs(srcDir) : new Map<string, Xattr[]>();
  // getfattr prints paths as given; normalise the root spelling.
  const xattrsOf = (p: string): Xattr[] => xattrs.get(p) ?? [];

  const owner = (st: Stats): { uid: number; gid: number } => canonical
    ? { uid: 0, gid: 0 }
    : { uid: opts.ownerUid ?? st.uid, gid: opts.ownerGid ?? st.gid };
  const perm = (st: Stats): number => (canonical ? st.mode & 0o755 : st.mode & 0o7777);

  const tx = new Transaction(repo);
  const progress: CommitProgress = { filesDone: 0, filesTotal: counts.files, bytesDone: 0, bytesTotal: counts.bytes };
  const result = { files: 0, dirs: 0, symlinks: 0, contentBytes: 0 };
  const inFlight = new Set<Promise<void>>();
  const byInode = new Map<string, string>();
  let lastReport = 0;

  const track = async (p: Promise<void>): Promise<void> => {
    const wrapped = p.finally(() => inFlight.delete(wrapped));
    inFlight.add(wrapped);
    if (inFlight.size >= MAX_IN_FLIGHT) await Promise.race(inFlight);
  };

  const commitFile = async (f: FileNode): Promise<string> => {
    const { uid, gid } = owner(f.st);
    const fx = wantXattrs ? xattrsOf(f.path) : [];
    if (f.st.isSymbolicLink()) {
      result.symlinks++;
      const header: FileHeader = { uid, gid, mode: S_IFLNK | 0o777, symlinkTarget: readlinkSync(f.path, 'utf8'), xattrs: fx };
      const checksum = createHash('sha256').update(fileHeaderBytes(header)).digest('hex');
      await track(tx.writeFileObject(checksum, header, new Uint8Array(0)));
      return checksum;
    }
    result.files++;
    result.contentBytes += f.st.size;
    const header: FileHeader = { uid, gid, mode: S_IFREG | perm(f.st), symlinkTarget: '', xattrs: fx };
    const inodeKey = f.st.nlink > 1 ? `${f.st.dev}:${f.st.ino}` : undefined;
    if (inodeKey && byInode.has(inodeKey)) return byInode.get(inodeKey)!;
    let checksum: string;
    if (f.st.size > (opts.largeFileThreshold ?? STREAM_THRESHOLD)) {
      checksum = await commitLargeFile(tx, f, header);
    } else {
      let content: Buffer;
      try {
        content = readFileSync(f.path);
      } catch (e) {
        throw ioError(e, 'read', f.path);
      }
      if (content.length !== f.st.size) throw new CanopyError('ERR_FILE_CHANGED', `${f.path} changed size while being committed`, { path: f.path });
      checksum = createHash('sha256').update(fileHeaderBytes(header)).update(content).digest('hex');
      await track(tx.writeFileObject(checksum, header, content));
    }
    if (inodeKey) byInode.set(inodeKey, checksum);
    return checksum;
  };

  const commitDir = async (d: DirNode): Promise<{ tree: string; meta: string }> => {
    result.dirs++;
    const files: DirTreeFile[] = [];
    for (const f of d.files) {
      files.push({ name: f.name, checksum: await commitFile(f) });
      progress.filesDone++;
      if (f.st.isFile()) progress.bytesDone += f.st.size;
      if (opts.onProgress && (progress.filesDone - lastReport >= 200 || progress.filesDone === progress.filesTotal)) {
        lastReport = progress.filesDone;
        opts.onProgress({ ...progress });
      }
    }
    const dirs: DirTreeDir[] = [];
    for (const sub of d.dirs) dirs.push({ name: sub.name, ...(await commitDir(sub)) });
    const { uid, gid } = owner(d.st);
    const meta = tx.writeMetadata(ObjectType.DIR_META, serializeDirMeta({ uid, gid, mode: S_IFDIR | perm(d.st), xattrs: wantXattrs ? xattrsOf(d.path) : [] }));
    const tree = tx.writeMetadata(ObjectType.DIR_TREE, serializeDirTree({ files, dirs }));
    return { tree, meta };
  };

  try {
    const rootObjs = await commitDir(root);
    await Promise.all(inFlight);
    const parent = opts.parent === null ? undefined : opts.parent ?? (opts.branch ? readRef(repo, opts.branch) : undefined);
    const metadata: VarDict = [...(opts.metadata ?? [])];
    if (opts.bindings !== false) {
      metadata.push(['ostree.ref-binding', variant('as', opts.branch ? [opts.branch] : [])]);
      const cid = repo.config.get('core', 'collection-id');
      if (cid) metadata.push(['ostree.collection-binding', variant('s', cid)]);
    }
    const commitBytes = serializeCommit({
      metadata,
      parent,
      related: [],
      subject: opts.subject ?? '',
      body: opts.body ?? '',
      timestamp: opts.timestamp ?? Math.floor(Date.now() / 1000),
      rootTree: rootObjs.tree,
      rootMeta: rootObjs.meta,
    });
    const checksum = tx.writeMetadata(ObjectType.COMMIT, commitBytes);
    const objectsWritten = tx.stagedCount;
    tx.commit();
    if (opts.branch) writeRef(repo, opts.branch, checksum);
    return { checksum, commitBytes, objectsWritten, ...result };
  } catch (e) {
    await Promise.allSettled(inFlight);
    tx.abort();
    throw e;
  }
}

/** Streams a large file once: hashing and writing the same bytes. */
async function commitLargeFile(tx: Transaction, f: FileNode, header: FileHeader): Promise<string> {
  // First pass: hash (sequential reads, bounded memory). The object is then
  // written from a second read whose bytes are hashed again and compared,
  // so a file that changes in between is refused instead of mis-stored.
  const h = createHash('sha256').update(fileHeaderBytes(header));
  if (hashFileInto(h, f.path) !== f.st.size) throw new CanopyError('ERR_FILE_CHANGED', `${f.path} changed size while being committed`, { path: f.path });
  const checksum = h.digest('hex');
  if (tx.has(checksum, ObjectType.FILE)) return checksum;
  const verify = createHash('sha256').update(fileHeaderBytes(header));
  const stream = createReadStream(f.path);
  let seen = 0;
  stream.on('data', (chunk) => {
    verify.update(chunk as Buffer);
    seen += (chunk as Buffer).length;
  });
  await tx.writeFileObjectStream(checksum, header, f.st.size, stream);
  if (seen !== f.st.size || verify.digest('hex') !== checksum) {
    throw new CanopyError('ERR_FILE_CHANGED', `${f.path} changed while being committed`, { path: f.path });
  }
  return checksum;
}

