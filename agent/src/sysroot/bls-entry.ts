/**
 * Boot Loader Specification entries as ostree reads and writes them
 * (`ostree-bootconfig-parser.c`, 2022.7).
 *
 * Reading: a line counts when it starts with an ASCII letter; it splits at
 * the first space or tab into key and value (a line without a separator is
 * ignored). A second `initrd` line is an overlay initramfs; for other keys a
 * later line replaces an earlier one.
 *
 * Writing: `title`, `version`, `options`, `devicetree`, `linux`, `initrd`
 * (when set, in that order), then the overlay `initrd` lines, then every
 * other key in the order it was first set (ostree writes those in hash-table
 * order). One space separates key and value; every line ends in `\n`.
 */
import { CanopyError } from '../core/errors';

/** Largest entry file read. */
export const MAX_BLS_ENTRY = 64 * 1024;

const FIXED = ['title', 'version', 'options', 'devicetree', 'linux', 'initrd'] as const;

export class BlsEntry {
  private readonly values = new Map<string, string>();
  /** Extra `initrd` lines after the first. */
  overlayInitrds: string[] = [];

  /**
   * Parses entry text. Throws ERR_SYSROOT_INVALID (naming `where`) for text
   * longer than {@link MAX_BLS_ENTRY} or containing NUL.
   */
  static parse(text: string, where: string): BlsEntry {
    if (text.length > MAX_BLS_ENTRY) throw new CanopyError('ERR_SYSROOT_INVALID', `${where}: boot entry is larger than ${MAX_BLS_ENTRY} bytes`, { where });
    if (text.includes('\0')) throw new CanopyError('ERR_SYSROOT_INVALID', `${where}: boot entry contains NUL`, { where });
    const e = new BlsEntry();
    for (const line of text.split('\n')) {
      if (!/^[A-Za-z]/.test(line)) continue;
      const sep = line.search(/[ \t]/);
      if (sep < 0) continue;
      const key = line.slice(0, sep);
      const value = line.slice(sep + 1);
      if (key === 'initrd' && e.values.has('initrd')) e.overlayInitrds.push(value);
      else e.values.set(key, value);
    }
    return e;
  }

  get(key: string): string | undefined {
    return this.values.get(key);
  }

  set(key: string, value: string): void {
    if (/[\n\0]/.test(value) || /[\s\0]/.test(key) || key === '') {
      throw new CanopyError('ERR_INVALID_ARGUMENT', `boot entry key ${JSON.stringify(key)} or its value contains a line break or NUL`, { key });
    }
    this.values.set(key, value);
  }

  delete(key: string): void {
    this.values.delete(key);
  }

  keys(): string[] {
    return [...this.values.keys()];
  }

  clone(): BlsEntry {
    const c = new BlsEntry();
    for (const [k, v] of this.values) c.values.set(k, v);
    c.overlayInitrds = [...this.overlayInitrds];
    return c;
  }

  /** The entry file's text. */
  serialize(): string {
    let out = '';
    const written = new Set<string>();
    for (const key of FIXED) {
      const v = this.values.get(key);
      if (v === undefined) continue;
      out += `${key} ${v}\n`;
      written.add(key);
    }
    if (this.overlayInitrds.length > 0 && written.has('initrd')) for (const v of this.overlayInitrds) out += `initrd ${v}\n`;
    for (const [k, v] of this.values) if (!written.has(k)) out += `${k} ${v}\n`;
    return out;
  }
}

/**
 * Compares BLS `version` values as glibc's `strverscmp` does (digit runs
 * compare as numbers; runs with leading zeros as fractions): the same state
 * machine, over UTF-16 code units. Returns <0, 0, >0.
 */
export function strverscmp(a: string, b: string): number {
  // States: normal, integral part, fractional part, leading zeros.
  const S_N = 0, S_I = 3, S_F = 6, S_Z = 9, CMP = 2, LEN = 3;
  const next = [S_N, S_I, S_Z, S_N, S_I, S_I, S_N, S_F, S_F, S_N, S_F, S_Z];
  const result = [
    CMP, CMP, CMP, CMP, LEN, CMP, CMP, CMP, CMP,
    CMP, -1, -1, 1, LEN, LEN, 1, LEN, LEN,
    CMP, CMP, CMP, CMP, CMP, CMP, CMP, CMP, CMP,
    CMP, 1, 1, -1, CMP, CMP, -1, CMP, CMP,
  ];
  const at = (s: string, i: number): number => (i < s.length ? s.charCodeAt(i) : 0);
  const digit = (c: number): boolean => c >= 48 && c <= 57;
  const cls = (c: number): number => (c === 48 ? 1 : 0) + (digit(c) ? 1 : 0);
  let i = 0;
  let j = 0;
  let c1 = at(a, i++);
  let c2 = at(b, j++);
  let state = S_N + cls(c1);
  let diff: number;
  while ((diff = c1 - c2) === 0) {
    if (c1 === 0) return 0;
    state = next[state];
    c1 = at(a, i++);
    c2 = at(b, j++);
    state += cls(c1);
  }
  const r = result[state * 3 + cls(c2)];
  if (r === CMP) return diff;
  if (r === LEN) {
    while (digit(at(a, i++))) if (!digit(at(b, j++))) return 1;
    return digit(at(b, j)) ? -1 : diff;
  }
  return r;
}
