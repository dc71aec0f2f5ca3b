/**
 * Suffix array construction by induced sorting (SA-IS, Nong, Zhang and
 * Chan 2009): linear time, a few machine words per input byte. Used by the
 * bsdiff generator (operator side only).
 *
 * The result has one entry more than the input: entry 0 is the empty
 * suffix (position n), as the classic bsdiff search expects.
 */

/** Sorted suffixes of `data` as positions, with `n` (the empty suffix) first. */
export function suffixArray(data: Uint8Array): Int32Array {
  const n = data.length;
  // Shift the alphabet up by one and append a unique smallest sentinel.
  const s = new Uint16Array(n + 1);
  for (let i = 0; i < n; i++) s[i] = data[i] + 1;
  s[n] = 0;
  return sais(s, n + 1, 257);
}

type Symbols = Uint16Array | Int32Array;

function fillBuckets(counts: Int32Array, bkt: Int32Array, ends: boolean): void {
  let sum = 0;
  for (let c = 0; c < counts.length; c++) {
    if (ends) {
      sum += counts[c];
      bkt[c] = sum;
    } else {
      bkt[c] = sum;
      sum += counts[c];
    }
  }
}

/** Induces L-type suffixes left to right, then S-type right to left. */
function induce(s: Symbols, t: Uint8Array, sa: Int32Array, counts: Int32Array, bkt: Int32Array): void {
  const n = sa.length;
  fillBuckets(counts, bkt, false);
  for (let i = 0; i < n; i++) {
    const j = sa[i] - 1;
    if (j >= 0 && t[j] === 0) sa[bkt[s[j]]++] = j;
  }
  fillBuckets(counts, bkt, true);
  for (let i = n - 1; i >= 0; i--) {
    const j = sa[i] - 1;
    if (j >= 0 && t[j] === 1) sa[--bkt[s[j]]] = j;
  }
}

/**
 * SA-IS over `s[0, n)` whose last symbol is a unique smallest sentinel and
 * whose symbols lie in `[0, k)`.
 */
function sais(s: Symbols, n: number, k: number): Int32Array {
  const sa = new Int32Array(n);
  if (n === 1) return sa;
  // Suffix types: 1 = S (smaller than the next suffix), 0 = L. A position
  // is LMS ("leftmost S") when it is S and its left neighbour is L.
  const t = new Uint8Array(n);
  t[n - 1] = 1;
  for (let i = n - 2; i >= 0; i--) t[i] = s[i] < s[i + 1] || (s[i] === s[i + 1] && t[i + 1] === 1) ? 1 : 0;
  const counts = new Int32Array(k);
  for (let i = 0; i < n; i++) counts[s[i]]++;
  const bkt = new Int32Array(k);

  // 1. Sort the LMS substrings: seed them at their bucket ends and induce.
  sa.fill(-1);
  fillBuckets(counts, bkt, true);
  for (let i = n - 1; i >= 1; i--) if (t[i] === 1 && t[i - 1] === 0) sa[--bkt[s[i]]] = i;
  induce(s, t, sa, counts, bkt);

  // 2. Name the LMS substrings in sorted order; equal substrings share a name.
  let n1 = 0;
  for (let i = 0; i < n; i++) {
    const p = sa[i];
    if (p > 0 && t[p] === 1 && t[p - 1] === 0) sa[n1++] = p;
  }
  const names = new Int32Array(n);
  let name = 0;
  let prev = -1;
  for (let i = 0; i < n1; i++) {
    const pos = sa[i];
    let differs = prev < 0;
    for (let d = 0; !differs; d++) {
      const a = pos + d;
      const b = prev + d;
      if (s[a] !== s[b] || t[a] !== t[b]) differs = true;
      else if (d > 0 && ((t[a] === 1 && t[a - 1] === 0) || (t[b] === 1 && t[b - 1] === 0))) break;
    }
    if (differs) {
      name++;
      prev = pos;
    }
    names[pos] = name - 1;
  }
  const lmsPositions = new Int32Array(n1);
  const s1 = new Int32Array(n1);
  for (let i = 1, j = 0; i < n; i++) {
    if (t[i] === 1 && t[i - 1] === 0) {
      lmsPositions[j] = i;
      s1[j++] = names[i];
    }
  }

  // 3. Sort the LMS suffixes: recursively if names repeat, directly if not.
  let sa1: Int32Array;
  if (name < n1) {
    sa1 = sais(s1, n1, name);
  } else {
    sa1 = new Int32Array(n1);
    for (let i = 0; i < n1; i++) sa1[s1[i]] = i;
  }

  // 4. Seed the sorted LMS suffixes at their bucket ends and induce the rest.
  sa.fill(-1);
  fillBuckets(counts, bkt, true);
  for (let i = n1 - 1; i >= 0; i--) {
    const j = lmsPositions[sa1[i]];
    sa[--bkt[s[j]]] = j;
  }
  induce(s, t, sa, counts, bkt);
  return sa;
}
