/**
 * Merging configuration fragments: objects merge key by key, recursively;
 * arrays and scalars are replaced whole by the later fragment. The merge
 * remembers which file set each value, so an error can name it. Pure.
 */

export type JsonObject = { [k: string]: unknown };

export function isPlainObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Merged values and, per dotted path, the file that set it last. */
export interface Merged {
  value: JsonObject;
  origins: Map<string, string>;
}

/** Merges `fragments` in order (later wins). Does not modify its inputs. */
export function mergeFragments(fragments: ReadonlyArray<{ source: string; value: JsonObject }>): Merged {
  const origins = new Map<string, string>();
  let value: JsonObject = {};
  for (const f of fragments) value = mergeInto(value, f.value, '', f.source, origins);
  return { value, origins };
}

function mergeInto(base: JsonObject, over: JsonObject, path: string, source: string, origins: Map<string, string>): JsonObject {
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(base)) define(out, k, v);
  for (const [k, v] of Object.entries(over)) {
    const p = path ? `${path}.${k}` : k;
    const prev = Object.hasOwn(out, k) ? out[k] : undefined;
    if (isPlainObject(v) && isPlainObject(prev)) {
      define(out, k, mergeInto(prev, v, p, source, origins));
    } else {
      for (const key of [...origins.keys()]) if (key.startsWith(`${p}.`) || key.startsWith(`${p}[`)) origins.delete(key);
      define(out, k, isPlainObject(v) ? mergeInto({}, v, p, source, origins) : structuredClone(v));
    }
    origins.set(p, source);
  }
  return out;
}

/** Sets an own property even for names like `__proto__`. */
function define(o: JsonObject, k: string, v: unknown): void {
  Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
}

/**
 * The file that set `path` (dotted, with `[i]` for array items), or the
 * closest enclosing value's file.
 */
export function originOf(origins: ReadonlyMap<string, string>, path: string): string | undefined {
  let p = path;
  for (;;) {
    const o = origins.get(p);
    if (o !== undefined) return o;
    const cut = Math.max(p.lastIndexOf('.'), p.lastIndexOf('['));
    if (cut <= 0) return undefined;
    p = p.slice(0, cut);
  }
}
