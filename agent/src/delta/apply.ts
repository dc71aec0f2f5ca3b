/**
 * Applying a static delta to a bare or bare-user-only repository.
 *
 * Two entry points:
 *
 * - {@link applyDeltaParts}: the parts of an {@link OpenedDelta} (already
 *   checked against the trusted commit by `openDelta`), written through
 *   any {@link DeltaObjectSink}. The puller uses this with its own writer
 *   and an HTTP {@link PartSource}, after it has verified and stored the
 *   commit the delta carries.
 * - {@link applyStaticDeltaOffline}: the whole flow of
 *   `ostree static-delta apply-offline`: open and verify the superblock
 *   (the caller's `verifyCommit` applies the trust policy to the embedded
 *   commit and its detached metadata before anything is written), mark the
 *   commit partial, store its detached metadata and the commit, apply every
 *   part, and clear the partial marker once the commit's whole tree is in
 *   the repository. No ref is moved.
 *
 * For each part: when the repository already has every object it lists,
 * it is skipped (re-running an interrupted application resumes); otherwise
 * its bytes come from the superblock (inline) or the part source, must
 * match the header's size and sha256, are decompressed with a limit
 * derived from the header (apply-limits.ts; by the system's `xz` when
 * there is one, see xz-tool.ts), and run (part-executor.ts). The next part
 * is fetched, checked and its `xz` started while the current one runs; its
 * output waits in a file, so only one decompressed part is in memory.
 * Offline, objects are staged in a repository transaction that is made
 * durable and moved into `objects/` every few seconds (a checkpoint) and
 * at the end. Before the first part, the sum of the declared sizes of the parts
 * still to apply must fit in the free space of the repository's file system.
 *
 * Archive repositories are refused, as OSTree does: rollsum and bsdiff
 * need the old objects' raw content.
 */
import { statfsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CanopyError, ioError } from '../core/errors';
import { ObjectType } from '../objects/index';
import { Transaction, reachableObjects, type Repo } from '../repo/index';
import { partDecompressLimit, resolveDeltaLimits, type DeltaLimits } from './apply-limits';
import { inlinePartKey } from './delta-path';
import { transactionSink, type DeltaObjectSink } from './object-sink';
import { openDelta, type OpenedDelta } from './open-delta';
import { parsePart, startPartUnwrap, verifyPartFile } from './part';
import type { XzJob } from './xz-tool';
import { executePart } from './part-executor';
import { directoryPartSource, type PartSource } from './part-source';
import { SourceReader } from './source-reader';
import { inlinePart, type DeltaFallback, type DeltaPartHeader } from './superblock';

export interface DeltaApplyProgress {
  readonly partsDone: number;
  readonly partsTotal: number;
  /** Part bytes (compressed) processed or skipped so far, of {@link OpenedDelta.partsSize}. */
  readonly bytesDone: number;
  readonly bytesTotal: number;
  readonly objectsWritten: number;
}

export interface ApplyPartsOptions {
  /** Where non-inline parts come from. */
  parts: PartSource;
  /** Where objects go; default: repository transactions, checkpointed (see {@link checkpointIntervalMs}). */
  sink?: DeltaObjectSink;
  /**
   * Without a sink: objects staged so far are made durable and moved into
   * `objects/` after the first part that ends this long after the last
   * checkpoint (default 5000 ms; 0: after every part), and at the end. A
   * failed or killed application keeps every checkpointed part.
   */
  checkpointIntervalMs?: number;
  /** Without a sink: the transaction to start with (the offline flow stages the commit in it). */
  transaction?: Transaction;
  limits?: Partial<DeltaLimits>;
  /** Check free space before the first part (default true). */
  checkFreeSpace?: boolean;
  signal?: AbortSignal;
  onProgress?: (p: DeltaApplyProgress) => void;
}

export interface ApplyPartsResult {
  partsApplied: number;
  /** Parts whose objects were all present already. */
  partsSkipped: number;
  objectsWritten: number;
  /** Objects the parts list that were present already. */
  objectsSkipped: number;
  /** Bytes of part files read (inline parts included). */
  bytesRead: number;
}

/**
 * Refuses repositories a delta cannot be applied to.
 *
 * @throws CanopyError ERR_REPO_MODE for an archive repository.
 */
export function assertDeltaTarget(repo: Repo): void {
  if (repo.mode === 'archive') {
    throw new CanopyError('ERR_REPO_MODE', `static deltas cannot be applied to the archive repository ${repo.path} (as with ostree): use a bare or bare-user-only repository, or pull objects`, { path: repo.path, mode: repo.mode });
  }
}

/**
 * Checks that `bytes` more bytes fit on the file system holding the repository.
 *
 * @throws CanopyError ERR_NO_SPACE when they do not; ERR_IO when the file
 *   system cannot be queried.
 */
export function checkFreeSpace(repo: Repo, bytes: number): void {
  let free: number;
  try {
    const s = statfsSync(repo.path);
    // As OSTree: root may use the reserved blocks.
    free = (process.getuid?.() === 0 ? s.bfree : s.bavail) * s.bsize;
  } catch (e) {
    throw ioError(e, 'statfs', repo.path);
  }
  if (bytes > free) {
    throw new CanopyError('ERR_NO_SPACE', `the delta needs ${bytes} bytes of free space in ${repo.path}, but only ${free} are available`, { needed: bytes, available: free });
  }
}

function allPresent(sink: Pick<DeltaObjectSink, 'has'>, header: DeltaPartHeader): boolean {
  return header.objects.every((o) => sink.has(o.type, o.checksum));
}

/**
 * Applies the parts of an opened delta. Does not touch the commit, its
 * detached metadata, the partial marker or refs, and does not fetch
 * fallbacks.
 *
 * @throws CanopyError ERR_REPO_MODE (archive repository), ERR_NO_SPACE,
 *   ERR_DELTA_INVALID (a part's size differs from its header, or its
 *   content is invalid), ERR_CHECKSUM_MISMATCH (part sha256 or a produced
 *   object), ERR_DECOMPRESS_TOO_LARGE, ERR_XZ_CORRUPT, ERR_XZ_UNSUPPORTED,
 *   ERR_DELTA_UNSUPPORTED, ERR_BSDIFF_INVALID, ERR_VARINT_INVALID,
 *   ERR_GVARIANT_*, ERR_OBJECT_INVALID, ERR_OBJECT_NOT_FOUND (a read source
 *   or part file is missing), ERR_BUDGET_EXCEEDED, ERR_ABORTED, ERR_IO, and
 *   what the part source and sink throw. Messages name the part.
 */
export async function applyDeltaParts(repo: Repo, delta: OpenedDelta, opts: ApplyPartsOptions): Promise<ApplyPartsResult> {
  assertDeltaTarget(repo);
  const limits = resolveDeltaLimits(opts.limits);
  const headers = delta.superblock.parts;
  // Offline, objects go through one transaction at a time, made durable and moved into
  // objects/ at least every checkpointIntervalMs (each checkpoint costs a syncfs).
  let tx: Transaction | undefined = opts.sink ? undefined : opts.transaction ?? new Transaction(repo);
  const interval = opts.checkpointIntervalMs ?? 5000;
  let lastCheckpoint = Date.now();
  const probe: Pick<DeltaObjectSink, 'has'> = opts.sink ?? { has: (type, c) => tx!.has(c, type) };
  const todo = headers.map((h) => !allPresent(probe, h));
  if (opts.checkFreeSpace ?? true) checkFreeSpace(repo, headers.reduce((n, h, i) => n + (todo[i] ? h.usize : 0), 0));

  const result: ApplyPartsResult = { partsApplied: 0, partsSkipped: 0, objectsWritten: 0, objectsSkipped: 0, bytesRead: 0 };
  let bytesDone = 0;
  const progress = (i: number): void => opts.onProgress?.({
    partsDone: i, partsTotal: headers.length, bytesDone, bytesTotal: delta.partsSize, objectsWritten: result.objectsWritten,
  });
  const fetchPart = (i: number): Promise<Uint8Array> => {
    const inline = inlinePart(delta.superblock, inlinePartKey(delta.from, delta.to, i));
    return inline ? Promise.resolve(inline) : opts.parts.getPart(i, headers[i]);
  };
  // A part's file checked against its header, its decompression started (with the system's
  // xz that runs in its own process and leaves the output in a file until it is read).
  type Started = { file: Uint8Array; unwrap: XzJob };
  const start = (i: number): Promise<Started> => fetchPart(i).then((file) => withPart(i, () => {
    verifyPartFile(file, headers[i], i);
    // The sha256 check just passed, so the xz stream's own CRCs would only cost time.
    return { file, unwrap: startPartUnwrap(file, partDecompressLimit(headers[i], limits), { verified: true, scratchDir: repo.tmpDir }) };
  }));
  // One part ahead is fetched and its decompression started while the current one runs.
  const pending = new Map<number, Promise<Started>>();
  const take = (i: number): Promise<Started> => {
    const p = pending.get(i) ?? start(i);
    pending.delete(i);
    return p;
  };
  const prefetch = (after: number): void => {
    const next = todo.indexOf(true, after + 1);
    if (next >= 0 && !pending.has(next)) {
      const p = start(next);
      p.catch(() => undefined);
      pending.set(next, p);
    }
  };
  const sources = new SourceReader(repo, limits.maxSourceSize);
  try {
    for (let i = 0; i < headers.length; i++) {
      const header = headers[i];
      if (!todo[i] || allPresent(probe, header)) {
        result.partsSkipped++;
        result.objectsSkipped += header.objects.length;
        bytesDone += header.size;
        progress(i + 1);
        continue;
      }
      if (opts.signal?.aborted) throw new CanopyError('ERR_ABORTED', 'static delta application was aborted');
      let taken: Promise<Started> | undefined = take(i);
      prefetch(i);
      let started: Started | undefined = await taken;
      // A settled promise keeps its value: dropped, so that the compressed file can go below.
      taken = undefined;
      result.bytesRead += started.file.length;
      const bytes = await withPart(i, () => started!.unwrap.read());
      // Only the decompressed part is needed from here: let the compressed file go while the part runs.
      started = undefined;
      const part = withPart(i, () => parsePart(bytes));
      const r = await executePart(part, header.objects, {
        mode: repo.mode, sink: opts.sink ?? transactionSink(tx!), sources, index: i, usize: header.usize, signal: opts.signal,
      });
      result.objectsWritten += r.written;
      result.objectsSkipped += r.skipped;
      if (tx && Date.now() - lastCheckpoint >= interval) {
        tx.commit();
        tx = new Transaction(repo);
        lastCheckpoint = Date.now();
      }
      result.partsApplied++;
      bytesDone += header.size;
      progress(i + 1);
    }
    tx?.commit();
    tx = undefined;
  } finally {
    sources.close();
    // A part started ahead and not reached: stop its decompression and free its file.
    for (const p of pending.values()) p.then((s) => s.unwrap.cancel(), () => undefined);
    // After a failure, objects staged since the last checkpoint are dropped (a write that failed
    // half-way must not reach objects/); a rerun applies those parts again.
    tx?.abort();
  }
  return result;
}

function partError(index: number, e: unknown): unknown {
  if (e instanceof CanopyError && !e.message.includes('delta part')) {
    return new CanopyError(e.code, `delta part ${index}: ${e.message}`, { ...e.details, part: index }, { cause: e });
  }
  return e;
}

/** Runs `f` for part `index`: its CanopyErrors (sync, or a rejected promise) say which part. */
function withPart<T>(index: number, f: () => T): T {
  try {
    const r = f();
    return (r instanceof Promise ? r.catch((e: unknown) => Promise.reject(partError(index, e))) : r) as T;
  } catch (e) {
    throw partError(index, e);
  }
}

export interface OfflineApplyOptions {
  /**
   * The target commit the caller trusts; the superblock must name it.
   * Without it the superblock is only checked for consistency (its embedded
   * commit hashes to its `to`), as `ostree static-delta apply-offline` does.
   */
  expectedTo?: string;
  /**
   * Applies the trust policy to the embedded commit and its detached
   * metadata (e.g. with `verifyTrust`) before anything is written; throw to
   * refuse.
   */
  verifyCommit?: (commit: Uint8Array, commitMeta: Uint8Array | undefined, delta: OpenedDelta) => Promise<void>;
  /** Where parts come from (default: the superblock's directory). */
  parts?: PartSource;
  /**
   * Apply even when fallback objects are missing (they are returned, and
   * the commit stays partial until they are fetched). Default false: such a
   * delta is refused, as OSTree refuses it offline.
   */
  allowMissingFallbacks?: boolean;
  limits?: Partial<DeltaLimits>;
  /** See {@link ApplyPartsOptions.checkpointIntervalMs}. */
  checkpointIntervalMs?: number;
  signal?: AbortSignal;
  onProgress?: (p: DeltaApplyProgress) => void;
}

export interface OfflineApplyResult extends ApplyPartsResult {
  name: string;
  from: string | null;
  to: string;
  /** Fallback objects the repository still lacks. */
  missingFallbacks: DeltaFallback[];
  /** True when the target commit's whole tree is in the repository (its partial marker is gone). */
  complete: boolean;
  /** Objects of the target's tree still missing (0 when complete). */
  missingObjects: number;
}

const partialPath = (repo: Repo, commit: string): string => join(repo.path, 'state', `${commit}.commitpartial`);

/**
 * `ostree static-delta apply-offline`: applies the delta whose superblock
 * is `path` (or `path/superblock` when `path` is a directory).
 *
 * @throws CanopyError as {@link openDelta} and {@link applyDeltaParts};
 *   ERR_OBJECT_NOT_FOUND when the delta's from-commit is not in the
 *   repository or the superblock file is missing; ERR_DELTA_UNSUPPORTED when
 *   fallback objects are missing and `allowMissingFallbacks` is off; what
 *   `verifyCommit` throws; ERR_IO.
 */
export async function applyStaticDeltaOffline(repo: Repo, path: string, opts: OfflineApplyOptions = {}): Promise<OfflineApplyResult> {
  assertDeltaTarget(repo);
  const limits = resolveDeltaLimits(opts.limits);
  let file = path;
  let bytes: Buffer;
  try {
    if (statSync(path).isDirectory()) file = join(path, 'superblock');
    const size = statSync(file).size;
    if (size > limits.maxSuperblockSize) {
      throw new CanopyError('ERR_DELTA_INVALID', `delta superblock ${file} has ${size} bytes, more than the ${limits.maxSuperblockSize} allowed`, { size });
    }
    bytes = readFileSync(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new CanopyError('ERR_OBJECT_NOT_FOUND', `no delta superblock at ${file}`, { path: file });
    throw ioError(e, 'read', file);
  }
  const delta = openDelta(bytes, { to: opts.expectedTo ?? null, limits });
  if (delta.from !== null && !repo.hasObject(delta.from, ObjectType.COMMIT)) {
    throw new CanopyError('ERR_OBJECT_NOT_FOUND', `commit ${delta.from}, the source of delta ${delta.name}, is not in ${repo.path}`, { commit: delta.from });
  }
  const missingFallbacks = delta.fallbacks.filter((f) => !repo.hasObject(f.checksum, f.type));
  if (missingFallbacks.length > 0 && !opts.allowMissingFallbacks) {
    throw new CanopyError('ERR_DELTA_UNSUPPORTED', `delta ${delta.name} needs ${missingFallbacks.length} fallback object(s) fetched separately (e.g. ${missingFallbacks[0].checksum}); it cannot be applied offline (generate it with --min-fallback-size=0)`, { missing: missingFallbacks.length });
  }
  await opts.verifyCommit?.(delta.commit, delta.commitMeta, delta);

  // The partial marker goes first; the commit and its detached metadata are staged with the
  // first objects and reach objects/ with the first checkpoint.
  const tx = new Transaction(repo);
  if (!repo.hasObject(delta.to, ObjectType.COMMIT)) {
    try {
      writeFileSync(partialPath(repo, delta.to), '');
      if (delta.commitMeta) tx.writeCommitMeta(delta.to, delta.commitMeta);
      tx.writeMetadata(ObjectType.COMMIT, delta.commit);
    } catch (e) {
      tx.abort();
      throw ioError(e, 'write', partialPath(repo, delta.to));
    }
  }
  let parts: ApplyPartsResult;
  try {
    parts = await applyDeltaParts(repo, delta, {
      parts: opts.parts ?? directoryPartSource(file.slice(0, file.lastIndexOf('/')) || '.'),
      limits, signal: opts.signal, onProgress: opts.onProgress, transaction: tx, checkpointIntervalMs: opts.checkpointIntervalMs,
    });
  } catch (e) {
    tx.abort();
    throw e;
  }
  let missingObjects = 0;
  for (const o of reachableObjects(repo, delta.to).values()) if (!repo.hasObject(o.checksum, o.type)) missingObjects++;
  const complete = missingObjects === 0;
  if (complete) rmSync(partialPath(repo, delta.to), { force: true });
  return { ...parts, name: delta.name, from: delta.from, to: delta.to, missingFallbacks, complete, missingObjects };
}
