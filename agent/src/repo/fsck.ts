/**
 * Repository integrity check. Every loose object is re-hashed and parsed
 * (not only the reachable ones, as `ostree fsck` does), then every complete
 * commit is walked and objects it needs but the repository lacks are
 * reported. Commits marked partial (`state/<c>.commitpartial`) are listed,
 * not walked: they are allowed to be incomplete. fsck never writes to the
 * repository.
 *
 * Speed: metadata and bare content are read with synchronous reads and
 * hashed on the main thread; archive content is inflated on the libuv pool
 * (both cores work) with a bounded window; files above 64 MiB are streamed.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sha256Hex } from '../core/bytes';
import { CanopyError, ioError, type ErrorCode } from '../core/errors';
import { Limits } from '../core/limits';
import { parse, dictLookup, type VarDict } from '../gvariant/index';
import { ObjectType, parseCommit, parseDirMeta, parseDirTree, type Commit, type DirTree } from '../objects/index';
import { verifyContentObjects, type ContentVerdict } from './fsck-content';
import type { Repo } from './repo';
import { ObjectWalker, commitPartialRelPath, listObjects, listRootRefs, objectKey, type ListedObject, type ObjectRef } from './walk';

export interface FsckProgress {
  readonly phase: 'metadata' | 'content' | 'commits';
  readonly done: number;
  readonly total: number;
}

export interface FsckOptions {
  onProgress?: (p: FsckProgress) => void;
  /** Re-hash content (file) objects too (default true); false only checks that they exist. */
  verifyContent?: boolean;
  /** Content larger than this many bytes is streamed, not read whole (default 64 MiB). */
  streamThreshold?: number;
  /** Archive repos with at least this many content objects are verified on worker threads (default 256). */
  workerThreshold?: number;
}

/** An object whose bytes do not match its name or are not valid. */
export interface CorruptObject extends ObjectRef {
  /** `objects/ab/cdef….ext`, relative to the repository. */
  readonly path: string;
  readonly why: string;
  readonly code: ErrorCode;
}

/** An object a complete commit needs that the repository does not hold. */
export interface MissingObject extends ObjectRef {
  /** The commits and dirtrees that name it. */
  readonly referencedBy: readonly ObjectRef[];
}

export interface PartialCommit {
  readonly checksum: string;
  /** True when an earlier fsck repair marked it (ostree's FSCK_PARTIAL: an error). */
  readonly byFsck: boolean;
}

/** A ref whose commit is missing or corrupt. */
export interface BrokenRef {
  readonly ref: string;
  readonly checksum: string;
  readonly why: string;
}

export interface FsckReport {
  /** Complete commits whose trees were walked. */
  commits: number;
  /** Loose objects examined. */
  objects: number;
  corrupt: CorruptObject[];
  missing: MissingObject[];
  partialCommits: PartialCommit[];
  brokenRefs: BrokenRef[];
  /** No corrupt or missing object, no broken ref, no commit marked partial by a repair. */
  ok: boolean;
}

/**
 * Checks the whole repository. Problems with objects are reported, not
 * thrown. Throws ERR_IO when the repository cannot be listed, ERR_XATTR
 * when a bare repository's attributes cannot be read (getfattr missing).
 */
export async function fsck(repo: Repo, opts: FsckOptions = {}): Promise<FsckReport> {
  const objects = listObjects(repo);
  const present = new Map<string, ListedObject>(objects.map((o) => [objectKey(o.checksum, o.type), o]));
  const corrupt: CorruptObject[] = [];
  const corruptKeys = new Set<string>();
  const markCorrupt = (o: ListedObject, e: unknown): void => {
    const err = e instanceof CanopyError ? e : ioError(e, 'read', o.relPath);
    corrupt.push({ checksum: o.checksum, type: o.type, path: o.relPath, why: err.message, code: err.code });
    corruptKeys.add(objectKey(o.checksum, o.type));
  };
  const vanished = (o: ListedObject): void => { present.delete(objectKey(o.checksum, o.type)); };
  const progress = throttle(opts.onProgress);

  // 1. Metadata: hash, strict parse, type-specific validation.
  const commits = new Map<string, Commit>();
  const dirTrees = new Map<string, DirTree>();
  const meta = objects.filter((o) => o.type !== ObjectType.FILE);
  meta.forEach((o, i) => {
    progress('metadata', i, meta.length);
    let data: Buffer;
    try {
      data = readFileSync(join(repo.path, o.relPath));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return vanished(o);
      return markCorrupt(o, e);
    }
    try {
      const v = verifyMetadata(o.type, o.checksum, data);
      if (o.type === ObjectType.COMMIT) commits.set(o.checksum, v as Commit);
      else if (o.type === ObjectType.DIR_TREE) dirTrees.set(o.checksum, v as DirTree);
    } catch (e) {
      markCorrupt(o, e);
    }
  });
  progress('metadata', meta.length, meta.length, true);

  // 2. Content objects.
  const content = objects.filter((o) => o.type === ObjectType.FILE);
  if (opts.verifyContent !== false) {
    await verifyContentObjects(repo, content, (o: ListedObject, v: ContentVerdict) => {
      if (v === 'vanished') vanished(o);
      else if (v !== 'ok') markCorrupt(o, v);
    }, (done) => progress('content', done, content.length), opts.streamThreshold, opts.workerThreshold);
    progress('content', content.length, content.length, true);
  }

  // 3. Refs must name a present, valid commit.
  const brokenRefs: BrokenRef[] = [];
  for (const r of listRootRefs(repo)) {
    if (commits.has(r.checksum)) continue;
    const ref = r.kind === 'head' ? r.name : `${r.owner}:${r.name}`;
    const corruptCommit = corruptKeys.has(objectKey(r.checksum, ObjectType.COMMIT));
    brokenRefs.push({ ref, checksum: r.checksum, why: corruptCommit ? 'its commit is corrupt' : 'its commit is missing' });
  }

  // 4. Walk every complete commit (each its own tree; parents are walked as commits of their own).
  const partialCommits: PartialCommit[] = [];
  const walker = new ObjectWalker({
    loadCommit: (c) => commits.get(c),
    loadDirTree: (c) => dirTrees.get(c),
    isPartial: () => false,
    hasCommitMeta: (c) => present.has(objectKey(c, ObjectType.COMMIT_META)),
  }, { onMissingDirTree: () => undefined });
  let walked = 0;
  let i = 0;
  for (const c of commits.keys()) {
    progress('commits', i++, commits.size);
    const marker = readPartialMarker(repo, c);
    if (marker !== undefined) {
      partialCommits.push({ checksum: c, byFsck: marker === 'f' });
      continue;
    }
    walker.addCommit(c, 0);
    walked++;
  }
  progress('commits', commits.size, commits.size, true);

  // 5. Missing = needed, not present, and not already reported as corrupt.
  const missingKeys = new Set<string>();
  for (const [key] of walker.reachable) if (!present.has(key) && !corruptKeys.has(key)) missingKeys.add(key);
  const missing = [...missingKeys].map((key) => ({ ...walker.reachable.get(key)!, referencedBy: [] as ObjectRef[] }));
  if (missing.length > 0) findReferrers(missing, walker.reachable, commits, dirTrees, partialCommits);

  const report: FsckReport = {
    commits: walked,
    objects: present.size,
    corrupt,
    missing,
    partialCommits,
    brokenRefs,
    ok: false,
  };
  report.ok = corrupt.length === 0 && missing.length === 0 && brokenRefs.length === 0 && !partialCommits.some((p) => p.byFsck);
  return report;
}

/**
 * Verifies one metadata object and returns its parsed value. Throws
 * ERR_CHECKSUM_MISMATCH, ERR_GVARIANT_NOT_NORMAL / ERR_GVARIANT_* (not
 * normal form), ERR_OBJECT_INVALID or ERR_UNSAFE_NAME (invalid content).
 */
export function verifyMetadata(type: ObjectType, checksum: string, data: Buffer): unknown {
  if (data.length > Limits.maxMetadataSize) throw new CanopyError('ERR_OBJECT_INVALID', `${data.length} bytes is more than the metadata limit`);
  if (type === ObjectType.COMMIT || type === ObjectType.DIR_TREE || type === ObjectType.DIR_META) {
    const actual = sha256Hex(data);
    if (actual !== checksum) throw new CanopyError('ERR_CHECKSUM_MISMATCH', `checksum mismatch: the bytes hash to ${actual}`, { checksum, actual });
  }
  switch (type) {
    case ObjectType.COMMIT: return parseCommit(data);
    case ObjectType.DIR_TREE: return parseDirTree(data);
    case ObjectType.DIR_META: return parseDirMeta(data);
    case ObjectType.COMMIT_META: return parse('a{sv}', data);
    case ObjectType.TOMBSTONE_COMMIT: {
      const v = dictLookup(parse('a{sv}', data) as VarDict, 'commit');
      if (!v || v.type !== 'ay') throw new CanopyError('ERR_OBJECT_INVALID', 'tombstone has no "commit" bytestring');
      return v;
    }
    default: throw new CanopyError('ERR_OBJECT_TYPE', `not a metadata object type: ${type}`);
  }
}

/** The marker's first byte ('' when empty), or undefined when the commit is not partial. */
function readPartialMarker(repo: Repo, commit: string): string | undefined {
  try {
    return readFileSync(join(repo.path, commitPartialRelPath(commit)), 'latin1').slice(0, 1);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    throw ioError(e, 'read', commitPartialRelPath(commit));
  }
}

/** Fills `referencedBy` of each missing object from the walked commits and dirtrees. */
function findReferrers(missing: MissingObject[], reachable: Map<string, ObjectRef>, commits: Map<string, Commit>, dirTrees: Map<string, DirTree>, partial: PartialCommit[]): void {
  const byKey = new Map(missing.map((m) => [objectKey(m.checksum, m.type), m.referencedBy as ObjectRef[]]));
  const note = (key: string, from: ObjectRef): void => { byKey.get(key)?.push(from); };
  const skip = new Set(partial.map((p) => p.checksum));
  for (const [c, commit] of commits) {
    if (skip.has(c)) continue;
    const from = { checksum: c, type: ObjectType.COMMIT };
    note(objectKey(commit.rootTree, ObjectType.DIR_TREE), from);
    note(objectKey(commit.rootMeta, ObjectType.DIR_META), from);
  }
  for (const ref of reachable.values()) {
    if (ref.type !== ObjectType.DIR_TREE) continue;
    const dt = dirTrees.get(ref.checksum);
    if (!dt) continue;
    const from = { checksum: ref.checksum, type: ObjectType.DIR_TREE };
    for (const f of dt.files) note(objectKey(f.checksum, ObjectType.FILE), from);
    for (const d of dt.dirs) {
      note(objectKey(d.tree, ObjectType.DIR_TREE), from);
      note(objectKey(d.meta, ObjectType.DIR_META), from);
    }
  }
}

function throttle(cb: FsckOptions['onProgress']): (phase: FsckProgress['phase'], done: number, total: number, force?: boolean) => void {
  let last = 0;
  return (phase, done, total, force = false) => {
    if (!cb) return;
    if (!force && done - last < 256 && done !== 0) return;
    last = done;
    cb({ phase, done, total });
  };
}
