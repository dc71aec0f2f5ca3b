/**
 * Extended attributes as OSTree stores them: `a(ayay)`, names carrying their
 * trailing NUL, sorted by name bytes. In JavaScript a name is a string
 * without the NUL and a value is raw bytes.
 */
import { CanopyError } from '../core/errors';
import type { GValue } from '../gvariant/index';

export interface Xattr {
  readonly name: string;
  readonly value: Uint8Array;
}

/** Sorts by name bytes (strcmp order) and refuses duplicate or empty names. */
export function normalizeXattrs(xattrs: readonly Xattr[]): Xattr[] {
  const withKeys = xattrs.map((x) => ({ x, key: Buffer.from(x.name, 'utf8') }));
  withKeys.sort((a, b) => Buffer.compare(a.key, b.key));
  for (let i = 0; i < withKeys.length; i++) {
    const n = withKeys[i].x.name;
    if (n.length === 0 || n.includes('\0')) throw new CanopyError('ERR_OBJECT_INVALID', `invalid xattr name ${JSON.stringify(n)}`, { name: n });
    if (i > 0 && withKeys[i - 1].x.name === n) throw new CanopyError('ERR_OBJECT_INVALID', `duplicate xattr ${n}`, { name: n });
  }
  return withKeys.map((w) => w.x);
}

/** To the GVariant value of `a(ayay)`. */
export function xattrsToGValue(xattrs: readonly Xattr[]): GValue {
  return normalizeXattrs(xattrs).map((x) => [Buffer.from(x.name + '\0', 'utf8'), x.value]);
}

/**
 * From a parsed `a(ayay)`. Refuses names without their NUL terminator, with
 * an inner NUL, or empty (as OSTree 2024.7+ does).
 */
export function xattrsFromGValue(v: GValue, where: string): Xattr[] {
  const out: Xattr[] = [];
  for (const entry of v as [Uint8Array, Uint8Array][]) {
    const [rawName, value] = entry;
    const nul = rawName.indexOf(0);
    if (rawName.length < 2 || nul !== rawName.length - 1) {
      throw new CanopyError('ERR_OBJECT_INVALID', `${where}: malformed xattr name`, { where });
    }
    out.push({ name: Buffer.from(rawName.subarray(0, nul)).toString('utf8'), value });
  }
  return out;
}

/** True when both lists hold the same names and values (in any order). */
export function xattrsEqual(a: readonly Xattr[], b: readonly Xattr[]): boolean {
  if (a.length !== b.length) return false;
  const na = normalizeXattrs(a);
  const nb = normalizeXattrs(b);
  return na.every((x, i) => x.name === nb[i].name && Buffer.compare(x.value, nb[i].value) === 0);
}
