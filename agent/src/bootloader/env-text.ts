/**
 * Text helpers shared by the boot-loader environment codecs. Both formats
 * store bytes; Canopy exposes them as strings, so the bytes must be UTF-8
 * and every string must encode to UTF-8 without loss. With that rule,
 * parse(serialize(vars)) gives back exactly `vars`.
 */
import { CanopyError, type ErrorCode } from '../core/errors';
import { compareUtf8 } from '../core/bytes';

/** Variables as callers hand them in: a Map (order kept) or a plain record. */
export type EnvVars = ReadonlyMap<string, string> | Readonly<Record<string, string>>;

// ignoreBOM keeps a leading U+FEFF in a value instead of silently dropping it.
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const encoder = new TextEncoder();
const LONE_SURROGATE = /\p{Cs}/u;

/** Decodes UTF-8, throwing ERR_ENV_INVALID (naming `what`) for invalid bytes. */
export function decodeEnvText(bytes: Uint8Array, what: string): string {
  try {
    return decoder.decode(bytes);
  } catch (e) {
    throw new CanopyError('ERR_ENV_INVALID', `${what} is not valid UTF-8`, { what }, { cause: e });
  }
}

/** Encodes a string as UTF-8, refusing lone surrogates that UTF-8 cannot hold. */
export function encodeEnvText(s: string, what: string, code: ErrorCode): Uint8Array {
  if (LONE_SURROGATE.test(s)) {
    throw new CanopyError(code, `${what} contains a lone UTF-16 surrogate, which has no UTF-8 form`, { what });
  }
  return encoder.encode(s);
}

/** A short, printable form of a name for error messages. */
export function quoteForError(s: string): string {
  return JSON.stringify(s.length > 120 ? `${s.slice(0, 120)}...` : s);
}

/** The [name, value] pairs of `vars`, optionally sorted by UTF-8 bytes (strcmp order). */
export function envEntries(vars: EnvVars, sort: boolean): Array<[string, string]> {
  const entries: Array<[string, string]> = vars instanceof Map
    ? [...(vars as ReadonlyMap<string, string>).entries()]
    : Object.entries(vars as Readonly<Record<string, string>>);
  for (const [name, value] of entries) {
    if (typeof name !== 'string' || typeof value !== 'string') {
      throw new CanopyError('ERR_INVALID_ARGUMENT', `environment variable ${quoteForError(String(name))} must have a string value`, { name: String(name) });
    }
  }
  if (sort) entries.sort((a, b) => compareUtf8(a[0], b[0]));
  return entries;
}
