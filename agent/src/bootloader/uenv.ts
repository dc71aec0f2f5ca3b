/**
 * uEnv.txt as ostree's U-Boot backend writes it (`boot/loader.N/uEnv.txt`), read by
 * uboot/boot.cmd with `env import -t`. Byte-compatible with `ostree admin deploy`
 * (checked against ostree 2022.7 in the tests).
 *
 * For each entry, default first, with suffix "" for entry 0 and "2", "3", ... after it:
 *
 *   kernel_image<s>=/boot<linux>
 *   ramdisk_image<s>=/boot<initrd>        when the entry has an initrd
 *   fdt_file<s>=/boot<devicetree>         when it has a devicetree
 *   fdtdir<s>=/boot<fdtdir>               when it has a devicetree directory
 *   bootargs<s>=<options>                 when it has options
 *
 * Right after entry 0's `bootargs` (and only when it has options) comes the verbatim text
 * of that deployment's `/usr/lib/ostree-boot/uEnv.txt`, if it has one. Every line ends in
 * `\n`; the appended text counts as one line, so its own final newline leaves a blank
 * line. An empty appended text is a blank line (never at the start, never two in a row).
 */
import { CanopyError } from '../core/errors';
import { BOOT_PREFIX, checkBootEntry, type BootEntry } from './boot-entry';

/** The file name of the U-Boot backend's output in `boot/loader.N/`. */
export const UENV_FILE = 'uEnv.txt';
/** Largest uEnv.txt the parser accepts. */
export const UENV_MAX_SIZE = 64 * 1024;

/** Options of {@link serializeUenv}. */
export interface UenvOptions {
  /** Text of entry 0's deployment `/usr/lib/ostree-boot/uEnv.txt`, when it has one. */
  systemUenv?: string;
}

function suffix(i: number): string {
  return i === 0 ? '' : String(i + 1);
}

/** Joins lines the way ostree does: each line plus `\n`, collapsing empty lines. */
function joinLines(lines: string[]): string {
  let out = '';
  let prevEmpty = false;
  lines.forEach((line, i) => {
    if (line === '') {
      if (prevEmpty || i === 0) return;
      prevEmpty = true;
    }
    out += `${line}\n`;
  });
  return out;
}

/**
 * Writes uEnv.txt for the entries, default first.
 *
 * @throws ERR_BOOT_ENTRY_INVALID for no entries or an entry with an unsafe field.
 * @throws ERR_INVALID_ARGUMENT when `systemUenv` holds NUL.
 */
export function serializeUenv(entries: readonly BootEntry[], options: UenvOptions = {}): string {
  if (entries.length === 0) throw new CanopyError('ERR_BOOT_ENTRY_INVALID', 'uEnv.txt needs at least one entry', {});
  if (options.systemUenv?.includes('\0')) {
    throw new CanopyError('ERR_INVALID_ARGUMENT', 'the deployment\'s ostree-boot/uEnv.txt contains NUL', {});
  }
  const lines: string[] = [];
  entries.forEach((entry, i) => {
    checkBootEntry(entry, `boot entry ${i}`);
    const s = suffix(i);
    lines.push(`kernel_image${s}=${BOOT_PREFIX}${entry.linux}`);
    if (entry.initrd !== undefined) lines.push(`ramdisk_image${s}=${BOOT_PREFIX}${entry.initrd}`);
    if (entry.devicetree !== undefined) lines.push(`fdt_file${s}=${BOOT_PREFIX}${entry.devicetree}`);
    if (entry.fdtdir !== undefined) lines.push(`fdtdir${s}=${BOOT_PREFIX}${entry.fdtdir}`);
    if (entry.options !== undefined) {
      lines.push(`bootargs${s}=${entry.options}`);
      if (i === 0 && options.systemUenv !== undefined) lines.push(options.systemUenv);
    }
  });
  return joinLines(lines);
}

/** One entry as U-Boot sees it in uEnv.txt (values as written, `/boot` prefix included). */
export interface UenvEntry {
  kernelImage: string;
  ramdiskImage?: string;
  fdtFile?: string;
  fdtdir?: string;
  bootargs?: string;
}

/** A parsed uEnv.txt. */
export interface ParsedUenv {
  /** Entries in order: index 0 = no suffix, index 1 = suffix 2, ... */
  entries: UenvEntry[];
  /** Every other `name=value` line (e.g. from the deployment's own uEnv.txt), in order. */
  extra: Array<[string, string]>;
}

const KEY = /^(kernel_image|ramdisk_image|fdt_file|fdtdir|bootargs)([2-9]|[1-9][0-9]+)?$/;
const FIELD: Record<string, keyof UenvEntry> = {
  kernel_image: 'kernelImage', ramdisk_image: 'ramdiskImage', fdt_file: 'fdtFile', fdtdir: 'fdtdir', bootargs: 'bootargs',
};

/**
 * Reads uEnv.txt as `env import -t` would: `name=value` lines, blank lines and `#`
 * comments skipped, later duplicates win.
 *
 * @throws ERR_ENV_INVALID when the text is too large, holds NUL, a line has no `=` or an
 *   empty name, an entry has fields but no kernel_image, or the entries have a gap.
 */
export function parseUenv(text: string): ParsedUenv {
  if (text.length > UENV_MAX_SIZE) {
    throw new CanopyError('ERR_ENV_INVALID', `uEnv.txt is longer than ${UENV_MAX_SIZE} characters`, { length: text.length });
  }
  if (text.includes('\0')) throw new CanopyError('ERR_ENV_INVALID', 'uEnv.txt contains NUL', {});
  const byIndex = new Map<number, Partial<UenvEntry>>();
  const extra = new Map<string, string>();
  text.split('\n').forEach((raw, i) => {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line === '' || line.startsWith('#')) return;
    const eq = line.indexOf('=');
    if (eq <= 0) throw new CanopyError('ERR_ENV_INVALID', `uEnv.txt line ${i + 1}: expected name=value`, { line: i + 1 });
    const name = line.slice(0, eq);
    const value = line.slice(eq + 1);
    const m = KEY.exec(name);
    if (!m) {
      extra.delete(name);
      extra.set(name, value);
      return;
    }
    const index = m[2] === undefined ? 0 : Number(m[2]) - 1;
    const entry = byIndex.get(index) ?? {};
    entry[FIELD[m[1]]] = value;
    byIndex.set(index, entry);
  });
  const entries: UenvEntry[] = [];
  for (let i = 0; i < byIndex.size; i++) {
    const entry = byIndex.get(i);
    if (!entry) throw new CanopyError('ERR_ENV_INVALID', `uEnv.txt has no entry ${i} (suffix "${suffix(i)}") before later ones`, { entry: i });
    if (entry.kernelImage === undefined) {
      throw new CanopyError('ERR_ENV_INVALID', `uEnv.txt entry ${i} has no kernel_image${suffix(i)}`, { entry: i });
    }
    entries.push(entry as UenvEntry);
  }
  return { entries, extra: [...extra.entries()] };
}
