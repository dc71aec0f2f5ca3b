/**
 * Static-delta generation (`ostree static-delta generate`), operator side.
 *
 * What goes in: every object the target commit reaches that the source
 * commit does not (the target commit itself travels in the superblock). A
 * new regular file paired with an old one (compile-pairing.ts) ships as a
 * bsdiff patch, or, when rolling-checksum chunks already cover at least 90%
 * of it (files of 64 KiB and more; or bsdiff is off or the pair too large
 * and OSTree's 50% chunk rule holds), as rollsum copies from the old file
 * plus the new bytes. A patch that would compress worse than the file
 * itself, and gzip/xz data paired only by name, ship the whole file.
 * Unpaired files larger than `minFallbackSize` become fallbacks (fetched
 * as plain objects), as in OSTree.
 *
 * Where Canopy's deltas get smaller than OSTree's: the parts are laid out
 * by kind, so xz sees like next to like: (1) metadata, rollsum and bsdiff
 * patches in path order; (2) new x86 executables (ELF), compressed with
 * xz's x86 branch filter; (3) the other new files sorted by extension and
 * path, then symlinks. Each kind is split into parts of at most
 * `maxChunkSize` (estimated as OSTree does). On the Debian 12 update of the
 * project's baseline this is about 10% smaller than ostree 2022.7's delta.
 *
 * Speed: bsdiff jobs run on a pool of worker threads, parts are compressed
 * by concurrent xz processes, and the main thread reads objects and builds
 * parts meanwhile.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { CanopyError, ioError } from '../core/errors';
import { parse, type VarDict } from '../gvariant/index';
import { ObjectType, fileChecksum, type FileHeader } from '../objects/index';
import { readXattrsOf, type Repo } from '../repo/index';
import { BsdiffPool, type BsdiffResult } from './bsdiff-pool';
import { PartCompressor, writeDeltaFiles, type FinishedPart } from './compile-output';
import type { XzCompressOptions } from './xz-compress';
import { pairModifiedFiles, type Pair, type PairKind } from './compile-pairing';
import { ContentStats, scanCommit, type CommitScan } from './compile-scan';
import { commitMetaKey, deltaDir, deltaName, inlinePartKey } from './delta-path';
import { PartBuilder } from './part-builder';
import { rollsumMatches, rollsumWorthIt, rollsumWrites, type RollsumMatch } from './rollsum';
import type { DeltaEndianness, DeltaFallback } from './superblock';

export interface GenerateDeltaOptions {
  /** Source commit; null or absent for a delta from nothing ("scratch"). */
  from?: string | null;
  to: string;
  /** Put the parts into the superblock (one file). */
  inline?: boolean;
  /** Unpaired files larger than this many bytes become fallbacks; 0: never (default 4 MB, as OSTree). */
  minFallbackSize?: number;
  /** Split parts at about this many uncompressed bytes (default 32 MB). */
  maxChunkSize?: number;
  /** Pairs whose old + new size passes this are not bsdiff'ed (default 128 MB). */
  maxBsdiffSize?: number;
  bsdiff?: boolean;
  rollsum?: boolean;
  /** Use xz's x86 filter for new x86 executables (default true). */
  x86Filter?: boolean;
  /** xz preset for parts (default 8, as OSTree). */
  xzPreset?: number;
  /** Write here instead of `<repo>/deltas/…` (as `--filename` does for the superblock's directory). */
  outputDir?: string;
  /** Extra superblock metadata, written first. */
  metadata?: VarDict;
  /** Byte order of the part headers (default 'l'). */
  endianness?: DeltaEndianness;
  /** Worker threads for bsdiff and concurrent xz processes (default 2). */
  threads?: number;
  /** Generation time (seconds since the epoch; default now). */
  timestamp?: number;
  onProgress?: (p: { phase: 'scan' | 'diff' | 'build' | 'compress' | 'write'; done: number; total: number }) => void;
}

export interface GenerateDeltaResult {
  name: string;
  /** Directory holding the superblock (and the parts unless inline). */
  dir: string;
  superblockSize: number;
  parts: Array<{ size: number; usize: number; objects: number }>;
  fallbacks: DeltaFallback[];
  /** Objects by how they travel. */
  counts: { metadata: number; rollsum: number; bsdiff: number; files: number; x86: number; symlinks: number; fallbacks: number };
  /** Sum of the part files' sizes (parts are in the superblock when inline). */
  partsSize: number;
  fallbackSize: number;
  /** bsdiff jobs run on worker threads and on the main thread (when no worker could start). */
  bsdiffJobs: { workers: number; inline: number };
}

const DEFAULTS = { minFallbackSize: 4_000_000, maxChunkSize: 32_000_000, maxBsdiffSize: 128_000_000 };

/** ELF for x86 or x86-64 (e_machine 3 or 62, little-endian). */
const isX86Elf = (b: Uint8Array): boolean => b.length > 20 && b[0] === 0x7f && b[1] === 0x45 && b[2] === 0x4c && b[3] === 0x46 && b[5] === 1 && (b[18] === 3 || b[18] === 62) && b[19] === 0;

const basename = (p: string): string => p.slice(p.lastIndexOf('/') + 1);
const extension = (p: string): string => {
  const b = basename(p);
  const dot = b.lastIndexOf('.');
  return dot > 0 ? b.slice(dot + 1) : '';
};
const compareStrings = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const byPath = <T extends { path: string }>(a: T, b: T): number => compareStrings(a.path, b.path);

/** Reads file objects with their full headers, verified against their names. */
class ContentReader {
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

type DiffEntry =
  | { kind: 'rollsum'; checksum: string; path: string; from: string; matches: RollsumMatch[] }
  | { kind: 'bsdiff'; checksum: string; path: string; from: string; patch: Promise<BsdiffResult> };

/** Splits a stream of objects into parts of at most `max` bytes (estimated as OSTree does). */
class PartStream {
  private cur: PartBuilder | null = null;

  constructor(private readonly max: number, private readonly emit: (b: PartBuilder) => void) {}

  /** The builder to add an object of about `bytes` bytes to. */
  next(bytes: number): PartBuilder {
    if (this.cur && !this.cur.isEmpty && this.cur.sizeEstimate + bytes > this.max) this.flush();
    this.cur ??= new PartBuilder();
    return this.cur;
  }

  flush(): void {
    if (this.cur && !this.cur.isEmpty) this.emit(this.cur);
    this.cur = null;
  }
}

function emptyScan(): CommitScan {
  return { commit: '', metadata: new Map(), files: new Map() };
}

/**
 * Generates the delta from `opts.from` (or from nothing) to `opts.to` and
 * writes it into the repository's `deltas/` (or `opts.outputDir`).
 *
 * @throws CanopyError ERR_OBJECT_NOT_FOUND / ERR_CHECKSUM_MISMATCH and the
 *   other repository read errors for missing or corrupt objects;
 *   ERR_INVALID_ARGUMENT for bad options; ERR_EXTERNAL_TOOL when xz is
 *   missing or fails; ERR_XATTR (bare repositories); ERR_IO / ERR_NO_SPACE.
 */
export async function generateDelta(repo: Repo, opts: GenerateDeltaOptions): Promise<GenerateDeltaResult> {
  const from = opts.from ?? null;
  const to = opts.to;
  const name = deltaName(from, to);
  const minFallback = opts.minFallbackSize ?? DEFAULTS.minFallbackSize;
  const maxChunk = opts.maxChunkSize ?? DEFAULTS.maxChunkSize;
  const maxBsdiff = opts.maxBsdiffSize ?? DEFAULTS.maxBsdiffSize;
  for (const [k, v] of [['minFallbackSize', minFallback], ['maxChunkSize', maxChunk], ['maxBsdiffSize', maxBsdiff]] as const) {
    if (!Number.isSafeInteger(v) || v < 0 || (k === 'maxChunkSize' && v === 0)) throw new CanopyError('ERR_INVALID_ARGUMENT', `${k} must be a ${k === 'maxChunkSize' ? 'positive' : 'non-negative'} integer, got ${v}`);
  }
  const useBsdiff = opts.bsdiff ?? true;
  const useRollsum = opts.rollsum ?? true;
  const threads = Math.max(1, opts.threads ?? 2);
  const progress = opts.onProgress ?? ((): void => undefined);

  // Commits first: a missing or corrupt one fails before any work.
  const commitBytes = repo.readMetadataBytes(ObjectType.COMMIT, to);
  progress({ phase: 'scan', done: 0, total: 2 });
  const toScan = scanCommit(repo, to);
  const fromScan = from === null ? emptyScan() : scanCommit(repo, from);
  progress({ phase: 'scan', done: 2, total: 2 });

  const stats = new ContentStats(repo);
  const newMeta = [...toScan.metadata.entries()].filter(([k]) => !fromScan.metadata.has(k)).map(([, v]) => v);
  const newFiles = new Map<string, string[]>();
  const newLinks: Array<{ checksum: string; path: string }> = [];
  for (const [checksum, paths] of toScan.files) {
    if (fromScan.files.has(checksum)) continue;
    const path = [...paths].sort()[0];
    if (stats.get(checksum).isLink) newLinks.push({ checksum, path });
    else newFiles.set(checksum, paths);
  }
  const pairs: Map<string, Pair> = from === null || (!useBsdiff && !useRollsum) ? new Map()
    : pairModifiedFiles({ newFiles, oldFiles: fromScan.files, stat: (c) => stats.get(c) });
  const reader = new ContentReader(repo);
  reader.prefetchXattrs([...newFiles.keys(), ...newLinks.map((l) => l.checksum)]);

  const pool = new BsdiffPool(useBsdiff && pairs.size > 0 ? threads : 0);
  const compressor = new PartCompressor(threads);
  // x86 code compresses best with the preset as it is; patches and other files (much text) with
  // 4 literal context bits, no position bits and a longer nice length (about 0.5% smaller).
  const xz = (x86: boolean): XzCompressOptions => (x86 ? { preset: opts.xzPreset ?? 8, x86 } : { preset: opts.xzPreset ?? 8, lc: 4, lp: 0, pb: 0, nice: 128 });
  try {
    // Decide each pair in path order: rollsum runs here, bsdiff jobs go to the pool.
    const diffs: DiffEntry[] = [];
    const plain: Array<{ checksum: string; path: string; size: number }> = [];
    const pairedList = [...pairs].map(([checksum, p]) => ({ checksum, from: p.from, how: p.kind, path: [...newFiles.get(checksum)!].sort()[0] })).sort(byPath);
    for (const [i, { how, ...e }] of pairedList.entries()) {
      const kind = decidePair(reader.content(e.from), reader.content(e.checksum), { useBsdiff, useRollsum, maxBsdiff, kind: how });
      if (kind.kind === 'rollsum') diffs.push({ ...e, kind: 'rollsum', matches: kind.matches });
      else if (kind.kind === 'bsdiff') {
        const patch = pool.diff(() => ({ old: reader.content(e.from), nw: reader.content(e.checksum) }));
        patch.catch(() => undefined);
        diffs.push({ ...e, kind: 'bsdiff', patch });
      } else plain.push({ checksum: e.checksum, path: e.path, size: stats.get(e.checksum).size });
      progress({ phase: 'diff', done: i + 1, total: pairedList.length });
    }
    for (const [checksum, paths] of newFiles) if (!pairs.has(checksum)) plain.push({ checksum, path: [...paths].sort()[0], size: stats.get(checksum).size });

    // Fallbacks: large files that are not diffed.
    const fallbacks: DeltaFallback[] = [];
    const inParts = plain.filter((f) => {
      if (minFallback === 0 || f.size <= minFallback) return true;
      fallbacks.push({ type: ObjectType.FILE, checksum: f.checksum, size: storedSize(repo, f.checksum, f.size), usize: f.size });
      return false;
    });
    fallbacks.sort((a, b) => (a.checksum < b.checksum ? -1 : 1));
    const counts = { metadata: newMeta.length, rollsum: 0, bsdiff: 0, files: 0, x86: 0, symlinks: newLinks.length, fallbacks: fallbacks.length };

    // Plain files (built first so their compression overlaps the bsdiff jobs),
    // sorted by extension then path, routed by content: x86 code, the rest, then symlinks.
    const x86Filter = opts.x86Filter ?? true;
    const x86Parts: Array<Promise<FinishedPart>> = [];
    const fileParts: Array<Promise<FinishedPart>> = [];
    const x86Stream = new PartStream(maxChunk, (b) => x86Parts.push(compressor.compress(b, xz(true))));
    const fileStream = new PartStream(maxChunk, (b) => fileParts.push(compressor.compress(b, xz(false))));
    inParts.sort((a, b) => compareStrings(extension(a.path), extension(b.path)) || byPath(a, b));
    for (const [i, f] of inParts.entries()) {
      const o = reader.read(f.checksum);
      const x86 = x86Filter && isX86Elf(o.content);
      (x86 ? x86Stream : fileStream).next(o.content.length).addFile(f.checksum, o.header, o.content);
      counts[x86 ? 'x86' : 'files']++;
      progress({ phase: 'build', done: i + 1, total: inParts.length + diffs.length });
    }
    x86Stream.flush();
    for (const l of newLinks.sort(byPath)) {
      const o = reader.read(l.checksum);
      fileStream.next(Buffer.byteLength(o.header.symlinkTarget)).addFile(l.checksum, o.header, o.content);
    }
    fileStream.flush();

    // Metadata, then rollsum and bsdiff objects in path order.
    const diffParts: Array<Promise<FinishedPart>> = [];
    const diffStream = new PartStream(maxChunk, (b) => diffParts.push(compressor.compress(b, xz(false))));
    for (const m of newMeta) {
      const bytes = repo.readMetadataBytes(m.type, m.checksum);
      diffStream.next(bytes.length).addMetadata(m.type, m.checksum, bytes);
    }
    for (const [i, d] of diffs.entries()) {
      const o = reader.read(d.checksum);
      if (d.kind === 'rollsum') {
        const writes = rollsumWrites(d.matches, o.content.length);
        const fresh = writes.reduce((sum, w) => sum + (w.from === 'payload' ? w.length : 0), 0);
        diffStream.next(fresh + 32).addRollsum(d.checksum, o.header, o.content, d.from, writes);
        counts.rollsum++;
      } else {
        const r = await d.patch;
        if (r.patchCost < r.rawCost) {
          diffStream.next(r.patch.length + 32).addBsdiff(d.checksum, o.header, o.content.length, d.from, r.patch);
          counts.bsdiff++;
        } else {
          // The pair turned out unrelated: the file itself compresses better than the patch.
          diffStream.next(o.content.length).addFile(d.checksum, o.header, o.content);
          counts.files++;
        }
      }
      progress({ phase: 'build', done: inParts.length + i + 1, total: inParts.length + diffs.length });
    }
    diffStream.flush();
    await pool.close();

    const pending = [...diffParts, ...x86Parts, ...fileParts];
    let compressed = 0;
    progress({ phase: 'compress', done: 0, total: pending.length });
    const parts = await Promise.all(pending.map((p) => p.then((r) => {
      progress({ phase: 'compress', done: ++compressed, total: pending.length });
      return r;
    })));

    const dir = opts.outputDir ?? join(repo.path, deltaDir(from, to));
    const meta = repo.readCommitMeta(to);
    progress({ phase: 'write', done: 0, total: 1 });
    const sb = writeDeltaFiles({
      dir, from, to, commit: commitBytes, parts, fallbacks, metadata: opts.metadata ?? [],
      inlineKeys: opts.inline ? parts.map((_, i) => inlinePartKey(from, to, i)) : undefined,
      commitMeta: meta ? { key: commitMetaKey(from, to), value: parse('a{sv}', meta) as VarDict } : undefined,
      endianness: opts.endianness ?? 'l', timestamp: opts.timestamp ?? Math.floor(Date.now() / 1000),
    });
    progress({ phase: 'write', done: 1, total: 1 });
    return {
      name, dir, superblockSize: sb.length,
      parts: parts.map((p) => ({ size: p.header.size, usize: p.header.usize, objects: p.header.objects.length })),
      fallbacks, counts,
      partsSize: parts.reduce((sum, p) => sum + p.header.size, 0),
      fallbackSize: fallbacks.reduce((sum, f) => sum + f.size, 0),
      bsdiffJobs: { workers: pool.jobsOnWorkers, inline: pool.jobsInline },
    };
  } finally {
    await pool.close();
  }
}

type PairDecision = { kind: 'rollsum'; matches: RollsumMatch[] } | { kind: 'bsdiff' } | { kind: 'plain' };

/** Below this size bsdiff is cheap and at least as good, so rollsum is not even computed. */
const ROLLSUM_MIN_SIZE = 64 * 1024;

const GZIP_MAGIC = [0x1f, 0x8b];
const XZ_MAGIC = [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00];
const looksCompressed = (b: Uint8Array): boolean => [GZIP_MAGIC, XZ_MAGIC].some((m) => m.every((x, i) => b[i] === x));

export interface PairPolicy {
  useBsdiff: boolean;
  useRollsum: boolean;
  maxBsdiff: number;
  /** How the pair was found (compile-pairing.ts); 'path' when absent. */
  kind?: PairKind;
}

/**
 * How a paired file travels (see the module notes). Compressed data paired
 * only by name (another package's `changelog.gz`) shares nothing with its
 * partner: it ships whole, without spending a bsdiff on it.
 */
export function decidePair(old: Uint8Array, nw: Uint8Array, o: PairPolicy): PairDecision {
  const bsdiffOk = o.useBsdiff && old.length + nw.length <= o.maxBsdiff && !((o.kind ?? 'path') !== 'path' && looksCompressed(nw));
  if (bsdiffOk && (!o.useRollsum || nw.length < ROLLSUM_MIN_SIZE)) return { kind: 'bsdiff' };
  if (!o.useRollsum) return { kind: 'plain' };
  const r = rollsumMatches(old, nw);
  const nearlySame = r.matchSize >= 0.9 * nw.length;
  if (r.matches.length > 0 && (nearlySame || (!bsdiffOk && rollsumWorthIt(r)))) return { kind: 'rollsum', matches: r.matches };
  return bsdiffOk ? { kind: 'bsdiff' } : { kind: 'plain' };
}

/** What a fallback costs to fetch: the stored `.filez` in an archive repository, else the content size. */
function storedSize(repo: Repo, checksum: string, size: number): number {
  if (repo.mode !== 'archive') return size;
  try {
    return statSync(repo.objectPath(checksum, ObjectType.FILE)).size;
  } catch (e) {
    throw ioError(e, 'stat', repo.objectPath(checksum, ObjectType.FILE));
  }
}
