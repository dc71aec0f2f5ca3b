/**
 * OSTree detached metadata: the `a{sv}` stored as `objects/xx/yyy.commitmeta`
 * next to a commit, and as `summary.sig` next to the summary file. It is not
 * content-addressed and is rewritten whenever a signature is added.
 *
 * Signatures live under one key per engine, each an `aay` whose elements
 * are signatures over the exact bytes of the signed file:
 *
 * | key | element |
 * | --- | --- |
 * | `ostree.gpgsigs` | one binary OpenPGP detached signature (packet) |
 * | `ostree.sign.ed25519` | one raw 64-byte Ed25519 signature |
 *
 * The dictionary is kept as an ordered list: GLib does not sort `a{sv}`,
 * so re-serializing preserves the order we read. Values are views into
 * the parsed input until copied.
 */
import { CanopyError } from '../core/errors';
import { parse, serialize, Variant, type ParseOptions, type VarDict } from '../gvariant';

/** The detached-metadata key holding OpenPGP signatures. */
export const GPG_SIGNATURES_KEY = 'ostree.gpgsigs';
/** The detached-metadata key holding Ed25519 signatures. */
export const ED25519_SIGNATURES_KEY = 'ostree.sign.ed25519';
/** The GVariant type every signature list has. */
export const SIGNATURE_LIST_TYPE = 'aay';

/**
 * The most signatures we read under one key. OSTree has no such limit, but a
 * commit carries a handful; a list of thousands is hostile and each element
 * costs a public-key operation.
 */
export const MAX_SIGNATURES_PER_KEY = 256;
/** The largest single signature element we accept (an RSA-16384 packet is ~2 KiB). */
export const MAX_SIGNATURE_SIZE = 64 * 1024;
/** The default size cap for a `.commitmeta` or `summary.sig` file. */
export const MAX_DETACHED_METADATA_SIZE = 16 * 1024 * 1024;

/** An ordered `a{sv}`: detached metadata as read, or to be written. */
export type DetachedMetadata = VarDict;

/**
 * Parses `.commitmeta` / `summary.sig` bytes. Zero bytes is the empty
 * dictionary (a valid serialization of an empty `a{sv}`).
 *
 * @throws ERR_GVARIANT_TOO_LARGE when the input exceeds `maxSize`
 *   (default {@link MAX_DETACHED_METADATA_SIZE}); ERR_GVARIANT_NOT_NORMAL or
 *   ERR_GVARIANT_TRUNCATED when the bytes are not a normal-form `a{sv}`.
 */
export function parseDetachedMetadata(bytes: Uint8Array, opts: ParseOptions = {}): DetachedMetadata {
  const maxSize = opts.maxSize ?? MAX_DETACHED_METADATA_SIZE;
  const value = parse('a{sv}', bytes, { maxSize }) as unknown as Array<[string, Variant]>;
  return value.map(([k, v]) => [k, v]);
}

/**
 * Serializes detached metadata in normal form, in the order given.
 *
 * @throws ERR_INVALID_ARGUMENT when a value does not match its declared type.
 */
export function serializeDetachedMetadata(md: DetachedMetadata): Buffer {
  return serialize('a{sv}', md);
}

/**
 * The signatures stored under `key`, in order, as copies. An absent key is
 * an empty list (the caller decides whether that is acceptable).
 *
 * @throws ERR_OBJECT_INVALID when the value under `key` is not an `aay`, has
 *   more than {@link MAX_SIGNATURES_PER_KEY} elements, or has an empty or
 *   oversized element. (OSTree's lookup ignores a value of the wrong type,
 *   which then reads as "no signatures"; we name the defect instead.)
 */
export function getSignatures(md: DetachedMetadata, key: string): Uint8Array[] {
  const v = lookup(md, key);
  if (v === undefined) return [];
  if (v.type !== SIGNATURE_LIST_TYPE) {
    throw new CanopyError('ERR_OBJECT_INVALID', `detached metadata key ${key} has type ${v.type.slice(0, 40)}, expected ${SIGNATURE_LIST_TYPE}`, { key, type: v.type.slice(0, 200) });
  }
  const list = v.value as readonly Uint8Array[];
  if (list.length > MAX_SIGNATURES_PER_KEY) {
    throw new CanopyError('ERR_OBJECT_INVALID', `detached metadata key ${key} holds ${list.length} signatures, more than the limit of ${MAX_SIGNATURES_PER_KEY}`, { key, count: list.length, limit: MAX_SIGNATURES_PER_KEY });
  }
  return list.map((sig, index) => {
    if (sig.length === 0 || sig.length > MAX_SIGNATURE_SIZE) {
      throw new CanopyError('ERR_OBJECT_INVALID', `detached metadata key ${key} element ${index} is ${sig.length} bytes (expected 1..${MAX_SIGNATURE_SIZE})`, { key, index, size: sig.length });
    }
    return Uint8Array.from(sig);
  });
}

/**
 * Returns new metadata with `signature` appended to the list under `key`.
 * Other keys and their order are kept; a new key goes last. Adding a
 * signature that is already present (same bytes) returns an equal copy.
 *
 * @throws ERR_OBJECT_INVALID when the existing value under `key` is not an
 *   `aay` or already holds {@link MAX_SIGNATURES_PER_KEY} signatures;
 *   ERR_INVALID_ARGUMENT when `signature` is empty or oversized.
 */
export function addSignature(md: DetachedMetadata, key: string, signature: Uint8Array): DetachedMetadata {
  if (signature.length === 0 || signature.length > MAX_SIGNATURE_SIZE) {
    throw new CanopyError('ERR_INVALID_ARGUMENT', `a signature must be 1..${MAX_SIGNATURE_SIZE} bytes, got ${signature.length}`, { key, size: signature.length });
  }
  const existing = getSignatures(md, key);
  const copy = Uint8Array.from(signature);
  if (existing.some((s) => Buffer.compare(s, copy) === 0)) return md.map(([k, v]) => [k, v]);
  if (existing.length >= MAX_SIGNATURES_PER_KEY) {
    throw new CanopyError('ERR_OBJECT_INVALID', `detached metadata key ${key} already holds ${existing.length} signatures`, { key, count: existing.length, limit: MAX_SIGNATURES_PER_KEY });
  }
  const value = new Variant(SIGNATURE_LIST_TYPE, [...existing, copy]);
  let replaced = false;
  const out: DetachedMetadata = md.map(([k, v]) => {
    if (!replaced && k === key) {
      replaced = true;
      return [k, value];
    }
    return [k, v];
  });
  if (!replaced) out.push([key, value]);
  return out;
}

/** Returns new metadata without the entry under `key`; other keys keep their order. */
export function removeSignatures(md: DetachedMetadata, key: string): DetachedMetadata {
  return md.filter(([k]) => k !== key).map(([k, v]) => [k, v]);
}

/** The first value under `key`, as GLib's lookup returns it. */
function lookup(md: DetachedMetadata, key: string): Variant | undefined {
  for (const [k, v] of md) if (k === key) return v;
  return undefined;
}
