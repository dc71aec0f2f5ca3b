/**
 * GVariant values in `--json` output. Every boxed value keeps its type:
 * `{"type": "s", "value": "1.0"}`. Inside, `ay` becomes a hex string,
 * 64-bit integers become numbers when exact and decimal strings otherwise,
 * `a{s…}` dictionaries become objects (first key wins, as a GLib lookup
 * does), other arrays and tuples become arrays, Nothing becomes null.
 */
import { parseType, Variant, type GType, type GValue } from '../gvariant/index';

export interface JsonVariant {
  type: string;
  value: unknown;
}

export function variantToJson(v: Variant): JsonVariant {
  return { type: v.type, value: valueToJson(parseType(v.type), v.value) };
}

/** An `a{sv}` in its serialized order as an object of typed values. */
export function varDictToJson(dict: ReadonlyArray<readonly [string, Variant]>): Record<string, JsonVariant> {
  const out: Record<string, JsonVariant> = Object.create(null);
  for (const [k, v] of dict) if (!Object.hasOwn(out, k)) out[k] = variantToJson(v);
  return out;
}

export function valueToJson(t: GType, v: GValue): unknown {
  switch (t.kind) {
    case 'basic':
      if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
      return v;
    case 'variant': return variantToJson(v as Variant);
    case 'maybe': return v === null ? null : valueToJson(t.elem, v);
    case 'tuple': return (v as readonly GValue[]).map((x, i) => valueToJson(t.members[i], x));
    case 'array': {
      const elem = t.elem;
      if (elem.kind === 'basic' && elem.code === 'y') return Buffer.from(v as Uint8Array).toString('hex');
      const items = v as readonly GValue[];
      if (elem.kind === 'tuple' && elem.dictEntry && elem.members[0].kind === 'basic' && elem.members[0].code === 's') {
        const out: Record<string, unknown> = Object.create(null);
        for (const e of items) {
          const [k, x] = e as readonly GValue[];
          if (!Object.hasOwn(out, k as string)) out[k as string] = valueToJson(elem.members[1], x);
        }
        return out;
      }
      return items.map((x) => valueToJson(elem, x));
    }
  }
}
