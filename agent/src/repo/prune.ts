/**
 * Deleting what nothing needs, as `ostree prune` does.
 *
 * Reachability starts at every ref (`refs/heads`, `refs/remotes`,
 * `refs/mirrors`) or, with `refsOnly: false`, at every commit in the
 * repository; `depth` N keeps N parents of each (-1: all history). Loose
 * commits, dirtrees, dirmetas and content objects outside that set are
 * deleted; a deleted commit takes its `.commitmeta` and
 * `state/<commit>.commitpartial` with it (and leaves a tombstone when
 * `core.tombstone-commits` is set); then static deltas whose target commit
 * is gone are removed. Like ostree, orphan `.commitmeta` and tombstone
 * objects are left alone and are not counted.
 *
 * Safety: only unreachable objects are deleted, commits first, so a crash
 * at any point leaves every ref's closure intact and no remaining commit
 * pointing at a deleted tree. Readers of reachable objects are never
 * disturbed. Canopy has no repository lock yet: do not prune while another
 * process commits or pulls into the same repository (a writer may reuse an
 * object prune has decided to delete; ostree prevents this with its repo lock).
 */
import { lstatSync, rmSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { CanopyError, ioError } from '../core/errors';
import { serialize, variant } from '../gvariant/index';
import { ObjectType, objectRelPath } from '../objects/index';
import type { Repo } from './repo';
import { listStaticDeltas, replaceFileAtomically, type StaticDeltaEntry } from './summary-writer';
import { ObjectWalker, commitPartialRelPath, listObjects, listRootRefs, objectKey, repoWalkSource, type ListedObject } from './walk';

export interface PruneOptions {
  /** Start reachability at refs only (default true); false: at every commit. */
  refsOnly?: boolean;
  /** Parents to keep behind each starting commit (default -1: all). */
  depth?: number;
  /**
   * Keep each ref's commit and then its ancestors while their timestamp
   * (seconds since the epoch) is at least this; the first older one and its
   * history go (`ostree prune --keep-younger-than`). Implies refsOnly; depth
   * is not used then.
   */
  keepYoungerThan?: number;
  /**
   * Count what would be deleted, delete nothing. (ostree's --no-prune still
   * removes static deltas whose target is already missing; this does not.)
   */
  dryRun?: boolean;
}

export interface PruneResult {
  /** Loose commits, dirtrees, dirmetas and content objects before pruning. */
  objectsTotal: number;
  objectsDeleted: number;
  /** Sum of the deleted objects' file sizes. */
  bytesFreed: number;
  commitsDeleted: string[];
  /** Names (`FROM-TO` or `TO`) of static deltas removed because their target went. */
  deltasDeleted: string[];
}

/** Deletion order: commits first, so no surviving commit ever lacks its tree. */
const ORDER: Record<number, number> = { [ObjectType.COMMIT]: 0, [ObjectType.DIR_TREE]: 1, [ObjectType.DIR_META]: 2, [ObjectType.FILE]: 3 };

/** What a prune will delete, in order. */
export interface PrunePlan {
  /** Loose commits, dirtrees, dirmetas and content objects before pruning. */
  objectsTotal: number;
  /** Unreachable objects in deletion order: commits, then dirtrees, dirmetas, content. */
  doomed: ListedObject[];
  /** Static deltas whose target commit is missing or doomed. */
  deltas: StaticDeltaEntry[];
}

/**
 * Computes what {@link prune} would delete, deleting nothing. Throws
 * ERR_INVALID_ARGUMENT for a bad option, ERR_OBJECT_NOT_FOUND when a
 * complete commit that must be kept lacks a dirtree, ERR_CHECKSUM_MISMATCH /
 * ERR_OBJECT_INVALID when one on the way is corrupt (run fsck first),
 * ERR_REPO_INVALID for a malformed ref, ERR_IO.
 */
export function planPrune(repo: Repo, opts: PruneOptions = {}): PrunePlan {
  const depth = opts.depth ?? -1;
  if (!Number.isInteger(depth) || depth < -1) throw new CanopyError('ERR_INVALID_ARGUMENT', `prune depth must be an integer >= -1, not ${depth}`);
  const cutoff = opts.keepYoungerThan;
  if (cutoff !== undefined && !Number.isFinite(cutoff)) throw new CanopyError('ERR_INVALID_ARGUMENT', `keepYoungerThan must be seconds since the epoch, not ${cutoff}`);
  const refsOnly = cutoff !== undefined || opts.refsOnly !== false;

  const listed = listObjects(repo).filter((o) => o.type in ORDER);
  const walker = new ObjectWalker(repoWalkSource(repo));
  for (const r of listRootRefs(repo)) {
    if (cutoff !== undefined) walker.addCommit(r.checksum, -1, (c) => c.timestamp >= cutoff);
    else walker.addCommit(r.checksum, depth);
  }
  if (!refsOnly) for (const o of listed) if (o.type === ObjectType.COMMIT) walker.addCommit(o.checksum, depth);

  const doomed = listed.filter((o) => !walker.reachable.has(objectKey(o.checksum, o.type)));
  doomed.sort((a, b) => ORDER[a.type] - ORDER[b.type]);
  const gone = new Set(doomed.filter((o) => o.type === ObjectType.COMMIT).map((o) => o.checksum));
  const deltas = listStaticDeltas(repo).filter((d) => gone.has(d.to) || !repo.hasObject(d.to, ObjectType.COMMIT));
  return { objectsTotal: listed.length, doomed, deltas };
}

/**
 * Prunes the repository: {@link planPrune}, then (unless `dryRun`) delete
 * in plan order. Throws as planPrune, and ERR_IO / ERR_PERMISSION when
 * deleting fails.
 */
export function prune(repo: Repo, opts: PruneOptions = {}): PruneResult {
  const plan = planPrune(repo, opts);
  const result: PruneResult = { objectsTotal: plan.objectsTotal, objectsDeleted: 0, bytesFreed: 0, commitsDeleted: [], deltasDeleted: [] };
  const tombstones = repo.config.getBoolean('core', 'tombstone-commits', false);
  for (const o of plan.doomed) {
    const size = sizeOf(repo, o);
    if (size === undefined) continue; // already gone (another prune)
    if (!opts.dryRun) deleteObject(repo, o, tombstones);
    result.objectsDeleted++;
    result.bytesFreed += size;
    if (o.type === ObjectType.COMMIT) result.commitsDeleted.push(o.checksum);
  }
  for (const d of plan.deltas) {
    if (!opts.dryRun) {
      try {
        rmSync(join(repo.path, d.relPath), { recursive: true, force: true });
      } catch (e) {
        throw ioError(e, 'remove static delta', d.relPath);
      }
    }
    result.deltasDeleted.push(d.name);
  }
  return result;
}

function sizeOf(repo: Repo, o: ListedObject): number | undefined {
  try {
    return lstatSync(join(repo.path, o.relPath)).size;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw ioError(e, 'stat', o.relPath);
  }
}

function unlinkIfPresent(path: string): void {
  try {
    unlinkSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw ioError(e, 'delete', path);
  }
}

/** Deletes one object; a commit also loses its detached metadata and partial marker. */
function deleteObject(repo: Repo, o: ListedObject, tombstones: boolean): void {
  unlinkIfPresent(join(repo.path, o.relPath));
  if (o.type !== ObjectType.COMMIT) return;
  unlinkIfPresent(join(repo.path, objectRelPath(o.checksum, ObjectType.COMMIT_META, repo.mode)));
  if (tombstones) writeTombstone(repo, o.checksum);
  unlinkIfPresent(join(repo.path, commitPartialRelPath(o.checksum)));
}

/**
 * Records that `commit` was deleted on purpose, as ostree does with
 * `core.tombstone-commits`: an `a{sv}` `{'commit': <b'<hex>'>}` stored as
 * `<commit>.tombstone-commit` (named after the commit, not its own hash).
 */
function writeTombstone(repo: Repo, commit: string): void {
  const bytes = serialize('a{sv}', [['commit', variant('ay', Buffer.from(commit + '\0', 'latin1'))]]);
  replaceFileAtomically(join(repo.path, objectRelPath(commit, ObjectType.TOMBSTONE_COMMIT, repo.mode)), bytes, repo.fsyncEnabled);
}
