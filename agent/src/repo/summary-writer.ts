/**
 * Writing the repository `summary` as `ostree summary -u` (2022.7) does:
 *
 * - refs: every `refs/heads` ref (aliases resolved), sorted, each with the
 *   commit object's size, its checksum and `ostree.commit.timestamp` (BE)
 *   plus `ostree.commit.version` when the commit has `version`. Remote refs
 *   are never listed. Mirrored collection refs (`refs/mirrors/<id>/…`) go
 *   to `ostree.summary.collection-map`, or to the main list when `<id>` is
 *   the repository's own `core.collection-id`.
 * - metadata: `ostree.summary.mode`, `.last-modified` (BE), `.tombstone-commits`,
 *   `.indexed-deltas` (true), `ostree.static-deltas` (name -> sha256 of the
 *   superblock) unless `core.no-deltas-in-summary`, `.expires` and
 *   `.collection-id` when given, then the caller's keys (ours win on a clash).
 * - side effects, as ostree: `core.indexed-deltas=true` in `config`, and
 *   one `delta-indexes/…/<to>.index` per delta target (stale ones removed).
 * - `summary` and `summary.sig` are made in a private directory under
 *   `tmp/` and renamed into place together; an unsigned summary removes a
 *   stale `summary.sig`.
 */
import { closeSync, fsyncSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, unlinkSync, utimesSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { checksumFromMbase64, checksumToBytes, checksumToMbase64, compareUtf8, sha256Hex } from '../core/bytes';
import { CanopyError, ioError } from '../core/errors';
import { parse, serialize, variant, type VarDict } from '../gvariant/index';
import { ObjectType, bswap64, commitVersion, parseCommit, serializeSummary, type SummaryRef } from '../objects/index';
import { fsyncDir, listRefs } from './refs';
import type { Repo } from './repo';
import { listRootRefs } from './walk';

/** One static delta found under `deltas/`. */
export interface StaticDeltaEntry {
  /** `FROM-TO` or, for a delta from scratch, `TO` (hex checksums). */
  readonly name: string;
  readonly from?: string;
  readonly to: string;
  /** Its directory relative to the repository: `deltas/XX/…`. */
  readonly relPath: string;
}

/**
 * `deltas/<mb(F)[0:2]>/<mb(F)[2:]>-<mb(T)>` or `deltas/<mb(T)[0:2]>/<mb(T)[2:]>`.
 * Throws ERR_CHECKSUM_INVALID for a malformed checksum.
 */
export function staticDeltaRelPath(from: string | undefined, to: string): string {
  const t = checksumToMbase64(to);
  if (from === undefined) return `deltas/${t.slice(0, 2)}/${t.slice(2)}`;
  const f = checksumToMbase64(from);
  return `deltas/${f.slice(0, 2)}/${f.slice(2)}-${t}`;
}

/** `delta-indexes/<mb(T)[0:2]>/<mb(T)[2:]>.index`. Throws ERR_CHECKSUM_INVALID. */
export function deltaIndexRelPath(to: string): string {
  const t = checksumToMbase64(to);
  return `delta-indexes/${t.slice(0, 2)}/${t.slice(2)}.index`;
}

function readDirs(path: string): string[] {
  try {
    return readdirSync(path, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name).sort();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw ioError(e, 'list', path);
  }
}

/**
 * The static deltas of the repository: every `deltas/XX/REST/` holding a
 * `superblock`, sorted by name. Directories whose names are not modified
 * base64 checksums are skipped. Throws ERR_IO when `deltas/` is unreadable.
 */
export function listStaticDeltas(repo: Repo): StaticDeltaEntry[] {
  const out: StaticDeltaEntry[] = [];
  const base = join(repo.path, 'deltas');
  for (const a of readDirs(base)) {
    if (a.length !== 2) continue;
    for (const b of readDirs(join(base, a))) {
      const relPath = `deltas/${a}/${b}`;
      const parts = (a + b).split('-');
      let from: string | undefined;
      let to: string;
      try {
        if (parts.length === 1) to = checksumFromMbase64(parts[0]);
        else if (parts.length === 2) [from, to] = [checksumFromMbase64(parts[0]), checksumFromMbase64(parts[1])];
        else continue;
      } catch {
        continue;
      }
      try {
        if (!statSync(join(repo.path, relPath, 'superblock')).isFile()) continue;
      } catch {
        continue;
      }
      out.push({ name: from ? `${from}-${to}` : to, from, to, relPath });
    }
  }
  return out.sort((x, y) => compareUtf8(x.name, y.name));
}

/** sha256 of a delta's superblock, as the summary and delta indexes carry it. */
function superblockDigest(repo: Repo, d: StaticDeltaEntry): Buffer {
  const p = join(repo.path, d.relPath, 'superblock');
  try {
    return checksumToBytes(sha256Hex(readFileSync(p)));
  } catch (e) {
    throw ioError(e, 'read', p);
  }
}

/**
 * Writes `bytes` to `path` via a temporary file next to it, fsync and
 * rename, so readers see the old or the new content, never a mix.
 * Throws ERR_IO / ERR_NO_SPACE / ERR_PERMISSION.
 */
export function replaceFileAtomically(path: string, bytes: Uint8Array, fsync = true): void {
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    mkdirSync(dirname(path), { recursive: true });
    const fd = openSync(tmp, 'w', 0o644);
    try {
      for (let off = 0; off < bytes.length;) off += writeSync(fd, bytes, off, bytes.length - off);
      if (fsync) fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw ioError(e, 'write', path);
  }
}

/**
 * Rewrites `delta-indexes/` from `deltas/`: one index per target commit
 * (an `a{sv}` with `ostree.static-deltas`: name -> superblock digest,
 * scratch delta first, then by from-commit), unchanged files left alone,
 * indexes of targets without deltas removed. Throws ERR_IO.
 */
export function reindexStaticDeltas(repo: Repo, deltas = listStaticDeltas(repo)): { written: number; removed: number } {
  const byTo = new Map<string, StaticDeltaEntry[]>();
  for (const d of deltas) byTo.set(d.to, [...(byTo.get(d.to) ?? []), d]);
  let written = 0;
  let removed = 0;
  const base = join(repo.path, 'delta-indexes');
  for (const a of readDirs(base)) {
    let names: string[] = [];
    try {
      names = readdirSync(join(base, a));
    } catch (e) {
      throw ioError(e, 'list', join(base, a));
    }
    for (const n of names) {
      if (a.length !== 2 || n.length !== 47 || !n.endsWith('.index')) continue;
      let to: string;
      try {
        to = checksumFromMbase64(a + n.slice(0, 41));
      } catch {
        continue;
      }
      if (byTo.has(to)) continue;
      rmSync(join(base, a, n), { force: true });
      removed++;
    }
  }
  for (const [to, list] of byTo) {
    list.sort((x, y) => (x.from === undefined ? -1 : y.from === undefined ? 1 : compareUtf8(x.from, y.from)));
    const entries: VarDict = list.map((d) => [d.name, variant('ay', superblockDigest(repo, d))]);
    const bytes = serialize('a{sv}', [['ostree.static-deltas', variant('a{sv}', entries)]]);
    const p = join(repo.path, deltaIndexRelPath(to));
    let old: Buffer | undefined;
    try {
      old = readFileSync(p);
    } catch {
      old = undefined;
    }
    if (old && old.equals(bytes)) continue;
    replaceFileAtomically(p, bytes, repo.fsyncEnabled);
    written++;
  }
  return { written, removed };
}

export interface SummaryOptions {
  /** Extra `a{sv}` entries (`ostree summary --add-metadata`). */
  metadata?: VarDict;
  /** `ostree.summary.expires`: seconds since the epoch. */
  expires?: number;
  /** `ostree.summary.last-modified`, seconds since the epoch (default now). */
  now?: number;
}

export interface SummaryResult {
  /** The summary file's bytes. */
  bytes: Buffer;
  /** Refs in the main list. */
  refs: number;
}

const be64 = (n: number): bigint => bswap64(BigInt(n));

function refEntry(repo: Repo, name: string, commit: string): SummaryRef {
  const data = repo.readMetadataBytes(ObjectType.COMMIT, commit);
  const c = parseCommit(data);
  // ostree's GVariantDict puts the version first (hash-table order, seen in
  // 2022.7's output); the same order keeps our summary byte-identical.
  const version = commitVersion(c);
  const metadata: VarDict = version === undefined ? [] : [['ostree.commit.version', variant('s', version)]];
  metadata.push(['ostree.commit.timestamp', variant('t', be64(c.timestamp))]);
  return { name, commit, commitSize: data.length, metadata };
}


/**
 * Builds the summary from the repository without writing anything.
 * Throws ERR_OBJECT_NOT_FOUND / ERR_CHECKSUM_MISMATCH when a ref's commit
 * is missing or corrupt, ERR_INVALID_ARGUMENT for a bad option,
 * ERR_REPO_INVALID for a malformed ref, ERR_CONFIG_INVALID for a bad
 * boolean in `config`.
 */
export function buildSummary(repo: Repo, opts: SummaryOptions = {}): SummaryResult {
  const now = opts.now ?? Math.floor(Date.now() / 1000);
  for (const [k, v] of [['now', now], ['expires', opts.expires]] as const) {
    if (v !== undefined && (!Number.isSafeInteger(v) || v < 0)) throw new CanopyError('ERR_INVALID_ARGUMENT', `summary ${k} must be whole seconds since the epoch, not ${v}`);
  }
  const cid = repo.config.get('core', 'collection-id');
  const main = new Map<string, SummaryRef>();
  for (const r of listRefs(repo)) main.set(r.name, refEntry(repo, r.name, r.checksum));
  const others = new Map<string, SummaryRef[]>();
  for (const r of listRootRefs(repo)) {
    if (r.kind !== 'mirror') continue;
    if (r.owner === cid) {
      if (!main.has(r.name)) main.set(r.name, refEntry(repo, r.name, r.checksum));
    } else others.set(r.owner!, [...(others.get(r.owner!) ?? []), refEntry(repo, r.name, r.checksum)]);
  }

  const md: VarDict = [
    ['ostree.summary.mode', variant('s', repo.config.get('core', 'mode') ?? 'bare')],
    ['ostree.summary.last-modified', variant('t', be64(now))],
    ['ostree.summary.tombstone-commits', variant('b', repo.config.getBoolean('core', 'tombstone-commits', false))],
    ['ostree.summary.indexed-deltas', variant('b', true)],
  ];
  const deltas = repo.config.getBoolean('core', 'no-deltas-in-summary', false) ? [] : listStaticDeltas(repo);
  if (deltas.length > 0) md.push(['ostree.static-deltas', variant('a{sv}', deltas.map((d) => [d.name, variant('ay', superblockDigest(repo, d))]))]);
  if (opts.expires !== undefined) md.push(['ostree.summary.expires', variant('t', be64(opts.expires))]);
  if (cid) md.push(['ostree.summary.collection-id', variant('s', cid)]);
  if (others.size > 0) {
    const ids = [...others.keys()].sort(compareUtf8);
    const refList = (refs: SummaryRef[]): unknown[] => [...refs].sort((a, b) => compareUtf8(a.name, b.name))
      .map((r) => [r.name, [BigInt(r.commitSize), checksumToBytes(r.commit), r.metadata]]);
    md.push(['ostree.summary.collection-map', variant('a{sa(s(taya{sv}))}', ids.map((id) => [id, refList(others.get(id)!)]) as never)]);
  }
  const ours = new Set(md.map(([k]) => k));
  const extra = new Map<string, VarDict[number]>();
  for (const entry of opts.metadata ?? []) if (!ours.has(entry[0])) extra.set(entry[0], entry);
  md.push(...extra.values());
  return { bytes: serializeSummary({ refs: [...main.values()], metadata: md }), refs: main.size };
}

/**
 * Everything `ostree summary -u` does except publishing: sets
 * `core.indexed-deltas=true`, rewrites the delta indexes and builds the
 * summary. Sign the bytes, then publish with {@link writeSummaryFiles}.
 * Throws as {@link buildSummary}, and ERR_IO.
 */
export function prepareSummary(repo: Repo, opts: SummaryOptions = {}): SummaryResult {
  if (!repo.config.getBoolean('core', 'indexed-deltas', false)) {
    repo.config.set('core', 'indexed-deltas', 'true');
    repo.saveConfig();
  }
  reindexStaticDeltas(repo);
  return buildSummary(repo, opts);
}

/**
 * Publishes `summary` and, when given, its `summary.sig` (an `a{sv}` of
 * signatures over exactly these summary bytes): both are written and
 * synced in a private directory under `tmp/`, given the same mtime, then
 * renamed into place. Without a signature a stale `summary.sig` is
 * deleted. Throws ERR_INVALID_ARGUMENT when `signature` is not an
 * `a{sv}` in normal form, ERR_IO / ERR_NO_SPACE.
 */
export function writeSummaryFiles(repo: Repo, summary: Uint8Array, signature?: Uint8Array): void {
  if (signature) {
    try {
      parse('a{sv}', signature);
    } catch (e) {
      throw new CanopyError('ERR_INVALID_ARGUMENT', `summary.sig is not a normal-form a{sv}: ${(e as Error).message}`, {}, { cause: e });
    }
  }
  const fsync = repo.fsyncEnabled;
  let dir: string;
  try {
    dir = mkdtempSync(join(repo.tmpDir, 'summary-'));
  } catch (e) {
    throw ioError(e, 'create directory in', repo.tmpDir);
  }
  try {
    replaceFileAtomically(join(dir, 'summary'), summary, fsync);
    if (signature) {
      replaceFileAtomically(join(dir, 'summary.sig'), signature, fsync);
      const t = statSync(join(dir, 'summary.sig')).mtime;
      utimesSync(join(dir, 'summary.sig'), t, t);
      utimesSync(join(dir, 'summary'), t, t);
    }
    renameSync(join(dir, 'summary'), join(repo.path, 'summary'));
    if (signature) {
      try {
        renameSync(join(dir, 'summary.sig'), join(repo.path, 'summary.sig'));
      } catch (e) {
        rmSync(join(repo.path, 'summary.sig'), { force: true }); // never leave a signature of other bytes
        throw e;
      }
    } else {
      try {
        unlinkSync(join(repo.path, 'summary.sig'));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      }
    }
    if (fsync) fsyncDir(repo.path);
  } catch (e) {
    throw ioError(e, 'publish summary in', repo.path);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Regenerates and publishes an unsigned summary (`ostree summary -u`):
 * {@link prepareSummary} then {@link writeSummaryFiles}. Throws as those.
 */
export function generateSummary(repo: Repo, opts: SummaryOptions = {}): SummaryResult {
  const result = prepareSummary(repo, opts);
  writeSummaryFiles(repo, result.bytes);
  return result;
}
