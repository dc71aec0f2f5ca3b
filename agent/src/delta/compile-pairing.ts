/**
 * Pairing new file objects with old ones they probably evolved from, so
 * the generator can ship a rollsum or bsdiff against the old object instead
 * of the whole new one. Pure: names and sizes in, pairs out.
 *
 * OSTree's rule (2022.7) is kept as the fallback: an old object whose
 * basename equals one of the new object's basenames (then, second pass,
 * whose name before the first `.` does, when both names have one) and
 * whose size is within ±30% of the new size. Empty objects and objects
 * named `*.xz` or `*.bz2` (already compressed) are never paired, and only
 * world-readable old objects are used (a non-root client must be able to
 * read them).
 *
 * Canopy looks first at the same path: an old regular file at one of the
 * new object's paths is the best predictor of its content, and it is taken
 * when its size is within a factor of 2. Among several name matches the
 * one closest in size wins (OSTree takes the smallest that fits).
 */

/** What pairing needs to know about a file object. */
export interface PairStat {
  readonly size: number;
  readonly isLink: boolean;
  readonly mode: number;
}

export interface PairingInput {
  /** New regular-file objects of the target: checksum -> paths. */
  readonly newFiles: ReadonlyMap<string, readonly string[]>;
  /** Every file object of the source commit: checksum -> paths. */
  readonly oldFiles: ReadonlyMap<string, readonly string[]>;
  /** Size and type of any object above (read lazily). */
  stat(checksum: string): PairStat;
  /** ±percent for name matches (OSTree: 30). */
  readonly similarityPercent?: number;
  /** Try the same path first (default true; false gives OSTree's pairs). */
  readonly pathFirst?: boolean;
}

/** How a pair was found. */
export type PairKind = 'path' | 'basename' | 'fuzzy';

export interface Pair {
  readonly from: string;
  readonly kind: PairKind;
}

const basename = (p: string): string => p.slice(p.lastIndexOf('/') + 1);

/** The name before its first `.`, or undefined when there is none (or the name starts with `.`). */
function stem(name: string): string | undefined {
  const dot = name.indexOf('.');
  return dot > 0 ? name.slice(0, dot) : undefined;
}

function compressedName(paths: readonly string[]): boolean {
  return paths.some((p) => {
    const b = basename(p);
    const dot = b.lastIndexOf('.');
    if (dot < 0) return false;
    const ext = b.slice(dot + 1);
    return ext === 'xz' || ext === 'bz2';
  });
}

function push(map: Map<string, string[]>, key: string, value: string): void {
  const list = map.get(key);
  if (!list) map.set(key, [value]);
  else if (list[list.length - 1] !== value) list.push(value);
}

/**
 * Finds, for each new file object that has one, the old object to diff it
 * against. Returns new checksum -> pair.
 */
export function pairModifiedFiles(input: PairingInput): Map<string, Pair> {
  const pct = input.similarityPercent ?? 30;
  const byPath = new Map<string, string>();
  const byBase = new Map<string, string[]>();
  const byStem = new Map<string, string[]>();
  for (const [checksum, paths] of input.oldFiles) {
    for (const p of paths) {
      byPath.set(p, checksum);
      const b = basename(p);
      push(byBase, b, checksum);
      const s = stem(b);
      if (s !== undefined) push(byStem, s, checksum);
    }
  }
  const usable = new Map<string, boolean>();
  const oldUsable = (c: string): boolean => {
    let u = usable.get(c);
    if (u === undefined) {
      const st = input.stat(c);
      u = !st.isLink && st.size > 0 && (st.mode & 0o004) !== 0 && !compressedName(input.oldFiles.get(c) ?? []);
      usable.set(c, u);
    }
    return u;
  };
  const closest = (candidates: Iterable<string>, size: number, lo: number, hi: number): string | undefined => {
    let best: string | undefined;
    let bestDist = Infinity;
    for (const c of candidates) {
      if (!oldUsable(c)) continue;
      const s = input.stat(c).size;
      if (s < lo || s > hi) continue;
      const d = Math.abs(s - size);
      if (d < bestDist || (d === bestDist && best !== undefined && c < best)) {
        best = c;
        bestDist = d;
      }
    }
    return best;
  };

  const out = new Map<string, Pair>();
  for (const [checksum, paths] of input.newFiles) {
    const st = input.stat(checksum);
    if (st.isLink || st.size === 0 || compressedName(paths)) continue;
    const size = st.size;
    if (input.pathFirst ?? true) {
      const same = closest(paths.map((p) => byPath.get(p)).filter((c): c is string => c !== undefined), size, size / 2, size * 2);
      if (same) {
        out.set(checksum, { from: same, kind: 'path' });
        continue;
      }
    }
    // OSTree truncates the thresholds to integers.
    const lo = Math.floor(size * (1 - pct / 100));
    const hi = Math.floor(size * (1 + pct / 100));
    const names = new Set(paths.map(basename));
    const exact = closest(new Set([...names].flatMap((n) => byBase.get(n) ?? [])), size, lo, hi);
    if (exact) {
      out.set(checksum, { from: exact, kind: 'basename' });
      continue;
    }
    const stems = new Set([...names].map(stem).filter((s): s is string => s !== undefined));
    const fuzzy = closest(new Set([...stems].flatMap((s) => byStem.get(s) ?? [])), size, lo, hi);
    if (fuzzy) out.set(checksum, { from: fuzzy, kind: 'fuzzy' });
  }
  return out;
}
