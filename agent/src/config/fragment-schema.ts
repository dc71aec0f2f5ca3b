/**
 * The schema that one configuration fragment is checked against, derived
 * from the whole configuration's schema. A fragment sets only some fields,
 * so it keeps the types and the known fields and drops what only makes
 * sense for the merged whole. Pure; used when the validators are
 * generated (agent/gen-validators.ts), not at run time.
 */
import { isPlainObject, type JsonObject } from './merge';

/** Keywords that apply to the merged configuration only. */
const WHOLE_ONLY = new Set(['required', 'default', 'anyOf', 'if', 'then']);

/**
 * The schema for one fragment: same types and fields, nothing required, no
 * defaults, no field combinations (`anyOf`, `if`/`then`). Returns a new
 * value; the input is not changed. Property names under `properties` are
 * data, not keywords, so a field called `default` or `required` is kept.
 */
export function relax(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(relax);
  if (!isPlainObject(node)) return node;
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(node)) {
    if (WHOLE_ONLY.has(k)) continue;
    out[k] = k === 'properties' && isPlainObject(v) ? Object.fromEntries(Object.entries(v).map(([p, s]) => [p, relax(s)])) : relax(v);
  }
  return out;
}
