/**
 * The puller's decisions, as pure functions: what was asked for, where a
 * ref's commit comes from, whether a commit may be used for a ref (binding,
 * rollback), which objects of a dirtree still have to be fetched, and how
 * long to wait before a retry. No I/O here; the executor applies them.
 */
import { isChecksum } from '../core/bytes';
import { CanopyError } from '../core/errors';
import { assertRef } from '../core/names';
import { commitMetadataValue, ObjectType, type Commit, type DirTree, type Summary, type SummaryRef } from '../objects/index';

/** One thing to pull: a ref (its commit resolved later), a ref at a pinned commit, or a bare commit. */
export interface RefRequest {
  readonly ref?: string;
  readonly commit?: string;
}

/**
 * Parses `REF`, `REF@COMMIT` or a bare 64-hex `COMMIT`. Throws
 * ERR_REF_INVALID for a bad ref name, ERR_CHECKSUM_INVALID for a bad pin.
 */
export function parseRefRequest(spec: string): RefRequest {
  if (isChecksum(spec)) return { commit: spec };
  const at = spec.lastIndexOf('@');
  if (at < 0) return { ref: assertRef(spec) };
  const commit = spec.slice(at + 1);
  if (!isChecksum(commit)) throw new CanopyError('ERR_CHECKSUM_INVALID', `${JSON.stringify(spec)}: after @ must come a full 64-digit commit checksum`, { spec });
  return { ref: assertRef(spec.slice(0, at)), commit };
}

/** True when some request needs the summary (a ref without a pinned commit). */
export function needsSummary(reqs: readonly RefRequest[]): boolean {
  return reqs.some((r) => r.commit === undefined);
}

/** Binary search of the summary's sorted refs (as OSTree clients do). */
export function summaryRef(summary: Summary, ref: string): SummaryRef | undefined {
  const refs = summary.refs;
  const key = Buffer.from(ref, 'utf8');
  let lo = 0;
  let hi = refs.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const c = Buffer.compare(Buffer.from(refs[mid].name, 'utf8'), key);
    if (c === 0) return refs[mid];
    if (c < 0) lo = mid + 1;
    else hi = mid - 1;
  }
  return undefined;
}

/** A ref file's content from a server: a checksum after trimming whitespace. Throws ERR_CHECKSUM_INVALID. */
export function parseRemoteRefFile(text: string, ref: string): string {
  const c = text.trim();
  if (!isChecksum(c)) throw new CanopyError('ERR_CHECKSUM_INVALID', `the remote's refs/heads/${ref} does not hold a commit checksum`, { ref });
  return c;
}

/**
 * OSTree's binding check for a commit fetched for `ref`: when the commit
 * carries `ostree.ref-binding`, `ref` must be in it; when the remote has a
 * collection id, the commit's `ostree.collection-binding` must equal it
 * (and then a ref binding is required too). Throws ERR_REF_BINDING.
 */
export function checkRefBinding(commit: Commit, checksum: string, ref: string | undefined, collectionId?: string): void {
  const refs = commitMetadataValue(commit, 'ostree.ref-binding');
  const bound = refs && refs.type === 'as' ? (refs.value as string[]) : undefined;
  if (refs && refs.type !== 'as') throw new CanopyError('ERR_REF_BINDING', `commit ${checksum}: ostree.ref-binding has type ${refs.type}, not as`, { commit: checksum });
  if (collectionId !== undefined) {
    const cb = commitMetadataValue(commit, 'ostree.collection-binding');
    if (!cb || cb.type !== 's' || cb.value !== collectionId) {
      throw new CanopyError('ERR_REF_BINDING', `commit ${checksum} is not bound to collection ${collectionId}`, { commit: checksum, collectionId });
    }
    if (!bound) throw new CanopyError('ERR_REF_BINDING', `commit ${checksum} has no ref binding, which a remote with a collection id requires`, { commit: checksum });
  }
  if (bound && ref !== undefined && !bound.includes(ref)) {
    throw new CanopyError('ERR_REF_BINDING', `commit ${checksum} is bound to ${bound.map((r) => JSON.stringify(r)).join(', ') || 'no ref'}, not to ${JSON.stringify(ref)}: refusing it (a server may not swap one branch for another)`, {
      commit: checksum, ref, bound,
    });
  }
}

/**
 * Refuses to move a ref to a commit older than the one it points to (a
 * rollback attack replays an old, validly signed commit). Equal timestamps
 * pass. Throws ERR_DOWNGRADE unless `allow`.
 */
export function checkNotDowngrade(next: { checksum: string; commit: Commit }, current: { checksum: string; commit: Commit } | undefined, ref: string, allow: boolean): void {
  if (!current || allow || next.checksum === current.checksum) return;
  if (next.commit.timestamp < current.commit.timestamp) {
    const iso = (t: number): string => new Date(t * 1000).toISOString();
    throw new CanopyError('ERR_DOWNGRADE', `refusing to move ${ref} from commit ${current.checksum} (${iso(current.commit.timestamp)}) to the older commit ${next.checksum} (${iso(next.commit.timestamp)}); pass allowDowngrade (--allow-downgrade) if this is intended`, {
      ref, current: current.checksum, next: next.checksum, currentTimestamp: current.commit.timestamp, nextTimestamp: next.commit.timestamp,
    });
  }
}

/** An object the walk found. */
export interface WantedObject {
  readonly type: ObjectType;
  readonly checksum: string;
}

/** A child dirtree to scan, with the dirtree at the same path in the base commit when there is one. */
export interface SubtreeToScan {
  readonly tree: string;
  readonly base?: string;
}

/**
 * What a dirtree leads to: content objects and dirmetas that are neither
 * stored nor already queued (to fetch), and the child dirtrees to scan (a
 * stored dirtree may still have missing children after an interrupted
 * pull). `seen` is updated with what is returned.
 *
 * `base` is the dirtree at the same path in a complete commit of this
 * repository (the one the ref points to now). A child directory whose tree
 * is the same as the base's child of that name is complete already and is
 * not scanned; a changed one is returned with its base counterpart, so an
 * update scans only the directories that changed.
 */
export function scanDirTree(tree: DirTree, has: (type: ObjectType, checksum: string) => boolean, seen: Set<string>, base?: DirTree): { fetch: WantedObject[]; subtrees: SubtreeToScan[] } {
  const fetch: WantedObject[] = [];
  const subtrees: SubtreeToScan[] = [];
  const want = (type: ObjectType, checksum: string): void => {
    const key = `${type}:${checksum}`;
    if (seen.has(key)) return;
    seen.add(key);
    if (!has(type, checksum)) fetch.push({ type, checksum });
  };
  const baseDirs = base && base.dirs.length > 0 ? new Map(base.dirs.map((d) => [d.name, d.tree])) : undefined;
  for (const d of tree.dirs) {
    want(ObjectType.DIR_META, d.meta);
    const key = `${ObjectType.DIR_TREE}:${d.tree}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const was = baseDirs?.get(d.name);
    if (was === d.tree) continue;
    subtrees.push(was === undefined ? { tree: d.tree } : { tree: d.tree, base: was });
  }
  for (const f of tree.files) want(ObjectType.FILE, f.checksum);
  return { fetch, subtrees };
}

/** HTTP statuses worth retrying: timeouts, rate limits and server errors. */
export function isTransientStatus(status: number): boolean {
  return status === 408 || status === 425 || status === 429 || (status >= 500 && status <= 599);
}

/**
 * Exponential backoff with full jitter: a random delay in
 * [0, min(max, base * 2^attempt)], at least 1 ms.
 */
export function backoffMs(attempt: number, baseMs: number, maxMs: number, random: () => number): number {
  const cap = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30));
  return Math.max(1, Math.round(cap * random()));
}

/** Parses `Content-Range: bytes START-END/TOTAL`; undefined when malformed. */
export function parseContentRange(v: string | undefined): { start: number; end: number; total?: number } | undefined {
  const m = v === undefined ? null : /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(v.trim());
  if (!m) return undefined;
  const start = Number(m[1]);
  const end = Number(m[2]);
  const total = m[3] === '*' ? undefined : Number(m[3]);
  if (end < start || (total !== undefined && end >= total)) return undefined;
  return { start, end, total };
}
