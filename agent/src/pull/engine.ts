/**
 * The pull executor, shared by remote and local pulls. For each target
 * commit: fetch its detached metadata and the commit, check the hash,
 * apply the trust policy, the ref binding and the rollback check — all
 * before anything is stored — then mark it partial, store it, and walk its
 * tree, fetching only what the repository lacks (metadata before content,
 * a bounded number at a time). Stored dirtrees are walked too, except
 * below directories that the ref's current commit, when complete, has
 * unchanged at the same path. When everything is stored: make it durable,
 * clear the partial markers, and only then move the refs.
 *
 * A failure stops the other fetches, keeps the complete objects already
 * stored (a rerun does not fetch them again), leaves the commit partial and
 * moves no ref.
 */
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sha256Hex } from '../core/bytes';
import { CanopyError, isCanopyError } from '../core/errors';
import { Limits } from '../core/limits';
import { ObjectType, objectTypeName, parseCommit, parseDirMeta, parseDirTree, type Commit, type DirTree } from '../objects/index';
import { readRef, writeRef, type Repo } from '../repo/index';
import { ingestContent } from './ingest';
import type { ObjectSource } from './object-source';
import { checkNotDowngrade, checkRefBinding, scanDirTree, type SubtreeToScan } from './plan';
import { PullWriter } from './pull-writer';
import type { CommitVerifier, PullCommonOptions, PullProgress, PulledRef } from './types';

/** One commit to pull, with the ref it is pulled for (none for a bare checksum). */
export interface EngineTarget {
  readonly ref?: string;
  readonly commit: string;
  /** The `.commit` size from the summary, a cap on the download. */
  readonly commitSize?: number;
}

/** Called for a target the repository lacks, before objects are fetched one by one. */
export type DeltaHook = (target: EngineTarget, from: string | undefined, accept: (commitBytes: Uint8Array, meta: Uint8Array | undefined) => Promise<void>, writer: PullWriter) => Promise<boolean>;

export interface EngineOptions extends PullCommonOptions {
  /** Refs go to `refs/remotes/<remote>/`; without it to `refs/heads/`. */
  remote?: string;
  verifier: CommitVerifier;
  collectionId?: string;
  delta?: DeltaHook;
  /** Stops in-flight fetches after a failure. */
  cancel: () => void;
  now: () => number;
}

export interface EngineResult {
  refs: PulledRef[];
  commits: string[];
  metadataFetched: number;
  contentFetched: number;
  objectsWritten: number;
  verified: boolean;
  deltas: string[];
}

type Task = { type: ObjectType; checksum: string };

const partialPath = (repo: Repo, c: string): string => join(repo.path, 'state', `${c}.commitpartial`);

class PullRun {
  private readonly seen = new Set<string>();
  private readonly metaQueue: Task[] = [];
  private readonly contentQueue: Task[] = [];
  /** Dirtrees queued for fetching → the dirtree at the same path in the base commit. */
  private readonly baseOf = new Map<string, string>();
  private inFlight = 0;
  private failure: unknown;
  private idle: (() => void) | undefined;
  private total = 0;
  private metadataDone = 0;
  private contentDone = 0;
  private readonly started: number;
  private verifiedAll = true;
  /** Commits whose trees this run completes (their partial markers go at the end). */
  private readonly walked = new Set<string>();
  readonly deltas: string[] = [];
  phase: PullProgress['phase'] = 'commits';

  constructor(private readonly repo: Repo, private readonly source: ObjectSource, readonly writer: PullWriter, private readonly opts: EngineOptions) {
    this.started = opts.now();
  }

  get verified(): boolean {
    return this.verifiedAll;
  }

  get counts(): { metadata: number; content: number } {
    return { metadata: this.metadataDone, content: this.contentDone };
  }

  progress(): void {
    const cb = this.opts.onProgress;
    if (!cb) return;
    const elapsedMs = Math.max(1, this.opts.now() - this.started);
    const { requests, bytes } = this.source.stats();
    const done = this.metadataDone + this.contentDone;
    const rate = done / elapsedMs;
    cb({
      phase: this.phase, objectsDone: done, objectsTotal: this.total, metadataDone: this.metadataDone, contentDone: this.contentDone,
      bytes, requests, elapsedMs, bytesPerSecond: Math.round((bytes * 1000) / elapsedMs),
      etaSeconds: done > 0 && this.total > done ? (this.total - done) / rate / 1000 : undefined,
    });
  }

  private has = (type: ObjectType, checksum: string): boolean => this.writer.has(type, checksum);

  private isPartial(c: string): boolean {
    return existsSync(partialPath(this.repo, c));
  }

  /** The ref's current commit when it is complete (not marked partial): what a delta may start from and a walk may skip against. */
  private complete(current: { checksum: string; commit: Commit } | undefined): { checksum: string; commit: Commit } | undefined {
    return current && !this.isPartial(current.checksum) ? current : undefined;
  }

  /** Fetches, checks and stores a commit (or re-checks a stored one). Returns the commit and whether its tree needs a walk. */
  async commitFor(t: EngineTarget, current: { checksum: string; commit: Commit } | undefined, bindRef: boolean): Promise<{ commit: Commit; walk: boolean }> {
    const c = t.commit;
    const stored = this.has(ObjectType.COMMIT, c);
    const metaP = this.source.fetchCommitMeta(c);
    // Without a delta to try, the commit is fetched alongside its detached metadata.
    const bytesP = stored || this.opts.delta ? undefined : this.source.fetchMetadata(ObjectType.COMMIT, c, t.commitSize ?? Limits.maxMetadataSize);
    bytesP?.catch(() => undefined);
    let fetchedMeta: Buffer | undefined;
    try {
      fetchedMeta = await metaP;
    } catch (e) {
      await bytesP?.catch(() => undefined);
      throw e;
    }
    if (!stored && this.opts.delta) {
      let accepted: Commit | undefined;
      const accept = async (bytes: Uint8Array, meta: Uint8Array | undefined): Promise<void> => {
        accepted = await this.accept(t, Buffer.from(bytes), meta ? Buffer.from(meta) : undefined, current, bindRef, false);
      };
      const from = this.complete(current)?.checksum;
      const applied = await this.opts.delta(t, from, accept, this.writer);
      // A delta commits its parts to the repository itself, behind the writer's listing.
      this.writer.rescan();
      if (applied && !accepted) throw new CanopyError('ERR_DELTA_INVALID', `the static delta to ${c} did not hand over its commit for verification`, { commit: c });
      if (accepted) {
        if (applied) this.deltas.push(c);
        return { commit: accepted, walk: true };
      }
    }
    let bytes: Buffer;
    if (stored) {
      bytes = this.repo.readMetadataBytes(ObjectType.COMMIT, c);
      fetchedMeta ??= this.repo.readCommitMeta(c);
    } else {
      bytes = await (bytesP ?? this.source.fetchMetadata(ObjectType.COMMIT, c, t.commitSize ?? Limits.maxMetadataSize));
    }
    const commit = await this.accept(t, bytes, fetchedMeta, current, bindRef, stored);
    return { commit, walk: !stored || this.isPartial(c) };
  }

  /** Verification before storage; then the partial marker, the commit and its detached metadata. */
  private async accept(t: EngineTarget, bytes: Buffer, meta: Buffer | undefined, current: { checksum: string; commit: Commit } | undefined, bindRef: boolean, stored: boolean): Promise<Commit> {
    const c = t.commit;
    const actual = sha256Hex(bytes);
    if (actual !== c) throw new CanopyError('ERR_CHECKSUM_MISMATCH', `commit ${c} as fetched from ${this.source.name} hashes to ${actual}`, { checksum: c, actual });
    let commit: Commit;
    try {
      commit = parseCommit(bytes);
    } catch (e) {
      if (isCanopyError(e)) throw new CanopyError(e.code, `commit ${c}: ${e.message}`, { ...e.details, checksum: c }, { cause: e });
      throw e;
    }
    const verified = await this.opts.verifier.verify(`commit ${c}`, bytes, meta);
    if (!verified) this.verifiedAll = false;
    if (bindRef) checkRefBinding(commit, c, t.ref, this.opts.collectionId);
    if (bindRef && t.ref) checkNotDowngrade({ checksum: c, commit }, current, t.ref, this.opts.allowDowngrade ?? false);
    if (!stored) {
      writeFileSync(partialPath(this.repo, c), '');
      await this.writer.writeMetadata(ObjectType.COMMIT, c, bytes);
    }
    if (meta && !meta.equals(this.repo.readCommitMeta(c) ?? Buffer.alloc(0))) await this.writer.writeCommitMeta(c, meta);
    return commit;
  }

  /**
   * Queues the tree of a commit for the walk. When `current` (the ref's
   * commit before this pull) is complete, its whole tree is stored, so the
   * walk skips every directory the two share at the same path.
   */
  walk(c: string, commit: Commit, current?: { checksum: string; commit: Commit }): void {
    const base = current?.checksum === c ? undefined : this.complete(current)?.commit;
    this.walked.add(c);
    this.phase = 'objects';
    this.want(ObjectType.DIR_META, commit.rootMeta);
    const key = `${ObjectType.DIR_TREE}:${commit.rootTree}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    if (base?.rootTree === commit.rootTree) return;
    this.visitTrees([{ tree: commit.rootTree, base: base?.rootTree }]);
  }

  private want(type: ObjectType, checksum: string): void {
    const key = `${type}:${checksum}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    if (!this.has(type, checksum)) this.enqueue({ type, checksum });
  }

  private enqueue(t: Task): void {
    this.total++;
    if (t.type === ObjectType.FILE) this.contentQueue.push(t);
    else this.metaQueue.push(t);
    this.pump();
  }

  /**
   * Visits dirtrees (already marked seen): a stored one is read from disk
   * and its children visited in turn (iteratively: deep trees cannot
   * overflow the stack); a missing one is queued for fetching.
   */
  private visitTrees(trees: SubtreeToScan[]): void {
    const stack = [...trees];
    while (stack.length) {
      const { tree: c, base } = stack.pop()!;
      if (!this.has(ObjectType.DIR_TREE, c)) {
        if (base !== undefined) this.baseOf.set(c, base);
        this.enqueue({ type: ObjectType.DIR_TREE, checksum: c });
        continue;
      }
      stack.push(...this.scan(this.loadTree(c), base));
    }
  }

  /** Queues what a dirtree's entries lead to that is missing; returns its subtrees to visit. */
  private scan(tree: DirTree, base: string | undefined): SubtreeToScan[] {
    const r = scanDirTree(tree, this.has, this.seen, this.loadBase(base));
    for (const o of r.fetch) this.enqueue(o);
    return r.subtrees;
  }

  /**
   * A base dirtree, part of a complete commit and so in `objects/`. One
   * that cannot be read only costs the shortcut: the directory is scanned
   * in full.
   */
  private loadBase(c: string | undefined): DirTree | undefined {
    if (c === undefined) return undefined;
    try {
      return this.repo.loadDirTree(c);
    } catch (e) {
      if (isCanopyError(e)) return undefined;
      throw e;
    }
  }

  /** A stored dirtree: staged in this pull (e.g. by a delta) or in `objects/`. */
  private loadTree(c: string): DirTree {
    const staged = this.writer.stagedMetadata(ObjectType.DIR_TREE, c);
    if (!staged) return this.repo.loadDirTree(c);
    const actual = sha256Hex(staged);
    if (actual !== c) throw new CanopyError('ERR_CHECKSUM_MISMATCH', `dirtree ${c} staged by this pull hashes to ${actual}`, { checksum: c, actual });
    return parseDirTree(staged);
  }

  private scanFetchedTree(checksum: string, tree: DirTree): void {
    const base = this.baseOf.get(checksum);
    this.baseOf.delete(checksum);
    this.visitTrees(this.scan(tree, base));
  }

  private pump(): void {
    const limit = Math.max(1, this.opts.concurrency ?? 8);
    while (this.failure === undefined && this.inFlight < limit) {
      const task = this.metaQueue.pop() ?? this.contentQueue.pop();
      if (!task) break;
      this.inFlight++;
      this.run(task).then(
        () => this.settled(),
        (e) => {
          if (this.failure === undefined) {
            this.failure = e;
            this.opts.cancel();
          }
          this.settled();
        },
      );
    }
    if (this.inFlight === 0 && this.idle) this.idle();
  }

  private settled(): void {
    this.inFlight--;
    // A store handed to a worker thread fails after its fetch slot was freed.
    if (this.failure === undefined && this.writer.failed !== undefined) this.fail(this.writer.failed);
    if (this.failure === undefined) {
      this.writer.maybeCheckpoint();
      this.progress();
    }
    this.pump();
  }

  private async run(t: Task): Promise<void> {
    if (t.type === ObjectType.FILE) {
      const item = await this.source.fetchContent(t.checksum);
      await ingestContent(this.writer, t.checksum, item, { maxContentSize: this.opts.maxContentSize, inMemoryLimit: this.opts.inMemoryLimit });
      this.contentDone++;
      return;
    }
    const bytes = await this.source.fetchMetadata(t.type, t.checksum, Limits.maxMetadataSize);
    const actual = sha256Hex(bytes);
    const name = `${objectTypeName(t.type)} ${t.checksum}`;
    if (actual !== t.checksum) throw new CanopyError('ERR_CHECKSUM_MISMATCH', `${name} as fetched from ${this.source.name} hashes to ${actual}`, { checksum: t.checksum, actual });
    let tree: DirTree | undefined;
    try {
      if (t.type === ObjectType.DIR_TREE) tree = parseDirTree(bytes);
      else parseDirMeta(bytes);
    } catch (e) {
      if (isCanopyError(e)) throw new CanopyError(e.code, `${name}: ${e.message}`, { ...e.details, checksum: t.checksum }, { cause: e });
      throw e;
    }
    await this.writer.writeMetadata(t.type, t.checksum, bytes);
    this.metadataDone++;
    if (tree) this.scanFetchedTree(t.checksum, tree);
  }



  /** Resolves when nothing is queued or in flight; rejects with the first failure. */
  async drain(): Promise<void> {
    if (this.inFlight > 0 || this.metaQueue.length > 0 || this.contentQueue.length > 0) {
      await new Promise<void>((resolve) => {
        this.idle = () => {
          if (this.inFlight === 0 && (this.failure !== undefined || (this.metaQueue.length === 0 && this.contentQueue.length === 0))) {
            this.idle = undefined;
            resolve();
          }
        };
        this.pump();
      });
    }
    if (this.failure !== undefined) throw this.failure;
  }

  /** Records a failure from outside the queue (the commit phase) so queued work stops; returns the first failure. */
  fail(e: unknown): unknown {
    if (this.failure === undefined) {
      this.failure = e;
      this.opts.cancel();
    }
    return this.failure;
  }

  /** Commits whose trees are now complete. */
  completed(): string[] {
    return [...this.walked];
  }
}


function loadIfPresent(repo: Repo, c: string | undefined): { checksum: string; commit: Commit } | undefined {
  if (!c) return undefined;
  try {
    return { checksum: c, commit: repo.loadCommit(c) };
  } catch (e) {
    if (isCanopyError(e, 'ERR_OBJECT_NOT_FOUND')) return undefined;
    throw e;
  }
}

/**
 * Pulls `targets` from `source` into `repo`. Throws what verification,
 * fetching and storing throw (see {@link pull}); on failure no ref moves.
 */
export async function runPull(repo: Repo, source: ObjectSource, targets: readonly EngineTarget[], writer: PullWriter, opts: EngineOptions): Promise<EngineResult> {
  const run = new PullRun(repo, source, writer, opts);
  const previous = new Map<EngineTarget, string | undefined>();
  await writer.ready();
  try {
    for (const t of targets) {
      const old = t.ref !== undefined ? readRef(repo, t.ref, opts.remote) : undefined;
      previous.set(t, old);
      const current = loadIfPresent(repo, old);
      const { commit, walk } = await run.commitFor(t, current, true);
      if (!opts.commitMetadataOnly && walk) run.walk(t.commit, commit, current);
      await pullParents(run, commit, opts.depth ?? 0, opts);
      run.progress();
    }
    await run.drain();
  } catch (e) {
    const first = run.fail(e);
    await run.drain().catch(() => undefined);
    // Keep the complete, verified objects (a rerun need not fetch them again).
    await writer.finish().catch(() => writer.abort());
    throw first;
  }
  run.phase = 'finishing';
  run.progress();
  try {
    // Also where a store that ran on a worker thread reports its failure.
    await writer.finish();
  } catch (e) {
    await writer.abort();
    throw e;
  }
  for (const c of run.completed()) rmSync(partialPath(repo, c), { force: true });
  const refs: PulledRef[] = [];
  const commits: string[] = [];
  for (const t of targets) {
    if (t.ref === undefined) {
      commits.push(t.commit);
      continue;
    }
    const prev = previous.get(t);
    if (prev !== t.commit) writeRef(repo, t.ref, t.commit, opts.remote);
    refs.push({ ref: t.ref, commit: t.commit, previous: prev, changed: prev !== t.commit });
  }
  const counts = run.counts;
  return {
    refs, commits, metadataFetched: counts.metadata, contentFetched: counts.content, objectsWritten: writer.written,
    verified: run.verified, deltas: run.deltas,
  };
}

/** Follows parents up to `depth` (-1: all); a parent the source lacks ends the history. */
async function pullParents(run: PullRun, commit: Commit, depth: number, opts: EngineOptions): Promise<void> {
  let remaining = depth < 0 ? Infinity : depth;
  let parent = commit.parent;
  while (parent !== undefined && remaining > 0) {
    remaining--;
    let next: { commit: Commit; walk: boolean };
    try {
      next = await run.commitFor({ commit: parent }, undefined, false);
    } catch (e) {
      if (isCanopyError(e, 'ERR_HTTP_STATUS') && e.details.status === 404) return;
      if (isCanopyError(e, 'ERR_OBJECT_NOT_FOUND')) return;
      throw e;
    }
    if (!opts.commitMetadataOnly && next.walk) run.walk(parent, next.commit);
    parent = next.commit.parent;
  }
}
