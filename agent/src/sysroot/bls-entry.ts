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
 * compare as numbers; runs with leading zeros as fractions). Returns <0, 0, >0.
 */
export function strverscmp(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const ca = a.charCodeAt(i);
    const cb = b.charCodeAt(j);
    const da = ca >= 48 && ca <= 57;
    const db = cb >= 48 && cb <= 57;
    if (da && db) {
      let ei = i;
      while (ei < a.length && isDigit(a.charCodeAt(ei))) ei++;
      let ej = j;
      while (ej < b.length && isDigit(b.charCodeAt(ej))) ej++;
      const ra = a.slice(i, ei);
      const rb = b.slice(j, ej);
      const fa = ra.length > 1 && ra[0] === '0';
      const fb = rb.length > 1 && rb[0] === '0';
      let c: number;
      if (fa || fb) {
        // A run with a leading zero is a fraction: it sorts before integers (glibc: 000 < 00 < 01 < 010 < 09 < 0 < 1).
        c = compareFractional(ra, rb);
      } else {
        const na = ra.replace(/^0+(?=.)/, '');
        const nb = rb.replace(/^0+(?=.)/, '');
        c = na.length !== nb.length ? na.length - nb.length : na < nb ? -1 : na > nb ? 1 : 0;
      }
      if (c !== 0) return c;
      i = ei;
      j = ej;
      continue;
    }
    if (ca !== cb) return ca - cb;
    i++;
    j++;
  }
  return (a.length - i) - (b.length - j);
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

function compareFractional(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let k = 0; k < n; k++) if (a[k] !== b[k]) return a.charCodeAt(k) - b.charCodeAt(k);
  // glibc: when one fractional run is a prefix of the other, the longer one is smaller.
  return b.length - a.length;
}
