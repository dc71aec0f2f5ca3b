/**
 * GVariant type strings parsed into a small tree with the two facts the
 * serializer needs for every type: its alignment and, when it has one, its
 * fixed size. Only the types GVariant defines are accepted; `mm…` is
 * refused because no OSTree format uses it and it makes `null` ambiguous.
 */
import { CanopyError } from '../core/errors';

export type BasicCode = 'y' | 'b' | 'n' | 'q' | 'i' | 'u' | 'h' | 'x' | 't' | 'd' | 's' | 'o' | 'g';

export type GType =
  | { readonly kind: 'basic'; readonly code: BasicCode; readonly align: number; readonly fixedSize?: number; readonly str: string }
  | { readonly kind: 'variant'; readonly align: 8; readonly fixedSize?: undefined; readonly str: 'v' }
  | { readonly kind: 'array'; readonly elem: GType; readonly align: number; readonly fixedSize?: undefined; readonly str: string }
  | { readonly kind: 'maybe'; readonly elem: GType; readonly align: number; readonly fixedSize?: undefined; readonly str: string }
  | { readonly kind: 'tuple'; readonly members: readonly GType[]; readonly dictEntry: boolean; readonly align: number; readonly fixedSize?: number; readonly str: string };

const BASIC: Record<BasicCode, { align: number; size?: number }> = {
  y: { align: 1, size: 1 }, b: { align: 1, size: 1 },
  n: { align: 2, size: 2 }, q: { align: 2, size: 2 },
  i: { align: 4, size: 4 }, u: { align: 4, size: 4 }, h: { align: 4, size: 4 },
  x: { align: 8, size: 8 }, t: { align: 8, size: 8 }, d: { align: 8, size: 8 },
  s: { align: 1 }, o: { align: 1 }, g: { align: 1 },
};

const MAX_TYPE_DEPTH = 32;
const cache = new Map<string, GType>();

function typeError(str: string, why: string): CanopyError {
  return new CanopyError('ERR_GVARIANT_TYPE', `invalid GVariant type ${JSON.stringify(str)}: ${why}`, { type: str.slice(0, 200) });
}

export function alignUp(n: number, align: number): number {
  return (n + align - 1) & ~(align - 1);
}

/** Parses one complete type string. Results are cached; they are immutable. */
export function parseType(str: string): GType {
  const hit = cache.get(str);
  if (hit) return hit;
  const [t, end] = parseAt(str, 0, 0);
  if (end !== str.length) throw typeError(str, 'trailing characters');
  if (cache.size < 256) cache.set(str, t);
  return t;
}

/** True when `str` is exactly one complete, supported type. */
export function isValidType(str: string): boolean {
  try { parseType(str); return true; } catch { return false; }
}

function parseAt(str: string, pos: number, depth: number): [GType, number] {
  if (depth > MAX_TYPE_DEPTH) throw typeError(str, 'nested too deeply');
  const c = str[pos];
  if (c === undefined) throw typeError(str, 'ends early');
  if (c in BASIC) {
    const b = BASIC[c as BasicCode];
    return [{ kind: 'basic', code: c as BasicCode, align: b.align, fixedSize: b.size, str: c }, pos + 1];
  }
  if (c === 'v') return [{ kind: 'variant', align: 8, str: 'v' }, pos + 1];
  if (c === 'a' || c === 'm') {
    const [elem, end] = parseAt(str, pos + 1, depth + 1);
    if (c === 'm' && elem.kind === 'maybe') throw typeError(str, 'nested maybe types are not supported');
    return [{ kind: c === 'a' ? 'array' : 'maybe', elem, align: elem.align, str: str.slice(pos, end) }, end];
  }
  if (c === '(' || c === '{') {
    const close = c === '(' ? ')' : '}';
    const members: GType[] = [];
    let p = pos + 1;
    while (str[p] !== close) {
      if (p >= str.length) throw typeError(str, `missing ${close}`);
      const [m, end] = parseAt(str, p, depth + 1);
      members.push(m);
      p = end;
    }
    if (c === '{') {
      if (members.length !== 2) throw typeError(str, 'a dict entry has exactly two members');
      if (members[0].kind !== 'basic') throw typeError(str, 'a dict entry key must be a basic type');
    }
    let align = 1;
    let size = 0;
    let fixed = true;
    for (const m of members) {
      align = Math.max(align, m.align);
      if (m.fixedSize === undefined) fixed = false;
      else size = alignUp(size, m.align) + m.fixedSize;
    }
    const fixedSize = fixed ? (members.length === 0 ? 1 : alignUp(size, align)) : undefined;
    return [{ kind: 'tuple', members, dictEntry: c === '{', align, fixedSize, str: str.slice(pos, p + 1) }, p + 1];
  }
  throw typeError(str, `unexpected ${JSON.stringify(c)} at ${pos}`);
}

/** Width in bytes of framing offsets inside a container of `size` bytes. */
export function offsetWidthForSize(size: number): number {
  if (size === 0) return 0;
  if (size <= 0xff) return 1;
  if (size <= 0xffff) return 2;
  if (size <= 0xffffffff) return 4;
  return 8;
}

/** The framing offset width a writer must choose for `body` bytes and `count` offsets. */
export function chooseOffsetWidth(body: number, count: number): number {
  if (count === 0) return 0;
  if (body + count <= 0xff) return 1;
  if (body + 2 * count <= 0xffff) return 2;
  if (body + 4 * count <= 0xffffffff) return 4;
  return 8;
}
