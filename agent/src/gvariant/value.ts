/**
 * The JavaScript shape of GVariant values:
 *
 * | GVariant | JavaScript |
 * | --- | --- |
 * | `y n q i u h d` | `number` (d: float64) |
 * | `x t` | `bigint` |
 * | `b` | `boolean` |
 * | `s o g` | `string` |
 * | `ay` | `Uint8Array` (a view into the parsed input; copy it to keep it) |
 * | `aT` | `T[]` |
 * | `mT` | `null` for Nothing, else the value |
 * | `(…)`, `{kv}` | a JavaScript array of the members |
 * | `v` | a {@link Variant}: its type string and value |
 */
export type GValue =
  | number
  | bigint
  | boolean
  | string
  | Uint8Array
  | null
  | Variant
  | readonly GValue[];

/** A boxed value with its own type: GVariant's `v`. */
export class Variant {
  constructor(readonly type: string, readonly value: GValue) {}
}

/** Shorthand for `new Variant(type, value)`. */
export function variant(type: string, value: GValue): Variant {
  return new Variant(type, value);
}

/** An `a{sv}` dictionary in its serialized order. */
export type VarDict = Array<[string, Variant]>;

/** Looks a key up in an `a{sv}` (linear: GLib does not sort them). */
export function dictLookup(dict: readonly (readonly [string, Variant])[], key: string): Variant | undefined {
  for (const [k, v] of dict) if (k === key) return v;
  return undefined;
}
