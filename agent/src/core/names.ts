/**
 * Names that come from untrusted trees or command lines: dirtree entry
 * names, ref names and remote names.
 */
import { CanopyError } from './errors';
import { Limits } from './limits';

/**
 * Throws ERR_UNSAFE_NAME unless `name` is a single path component that can
 * be joined to a directory without escaping it: not empty, not `.` or `..`,
 * no `/`, no NUL, at most NAME_MAX bytes.
 */
export function assertSafeName(name: string, where = 'name'): string {
  let why: string | undefined;
  if (name.length === 0) why = 'empty';
  else if (name === '.' || name === '..') why = 'is . or ..';
  else if (name.includes('/')) why = 'contains /';
  else if (name.includes('\0')) why = 'contains NUL';
  else if (Buffer.byteLength(name, 'utf8') > Limits.maxNameLength) why = `longer than ${Limits.maxNameLength} bytes`;
  else if (name.includes('\uFFFD')) why = 'is not valid UTF-8';
  if (why) throw new CanopyError('ERR_UNSAFE_NAME', `unsafe ${where} ${JSON.stringify(name.slice(0, 300))}: ${why}`, { where, name: name.slice(0, 300), why });
  return name;
}

const REF_FRAGMENT = /^[\w\d][-._\w\d]*$/;

/** True when `ref` is a valid OSTree ref name: fragments joined by `/`. */
export function isValidRef(ref: string): boolean {
  return ref.length > 0 && ref.length <= 1024 && ref.split('/').every((f) => REF_FRAGMENT.test(f));
}

/** Throws ERR_REF_INVALID unless `ref` is a valid ref name. */
export function assertRef(ref: string): string {
  if (!isValidRef(ref)) throw new CanopyError('ERR_REF_INVALID', `invalid ref name ${JSON.stringify(ref)}`, { ref });
  return ref;
}

/** Throws ERR_REF_INVALID unless `name` is a valid remote name (one fragment). */
export function assertRemoteName(name: string): string {
  if (!REF_FRAGMENT.test(name)) throw new CanopyError('ERR_REF_INVALID', `invalid remote name ${JSON.stringify(name)}`, { remote: name });
  return name;
}

/** Splits `remote:ref` into its parts; the remote is undefined for a plain ref. */
export function parseRefspec(spec: string): { remote?: string; ref: string } {
  const i = spec.indexOf(':');
  if (i < 0) return { ref: assertRef(spec) };
  return { remote: assertRemoteName(spec.slice(0, i)), ref: assertRef(spec.slice(i + 1)) };
}
