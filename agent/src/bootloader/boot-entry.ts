/**
 * One boot entry as the boot-loader writers take it: the fields of an ostree BLS entry
 * (`boot/loader.N/entries/ostree-*.conf`). Paths are relative to the boot partition
 * (`/ostree/<stateroot>-<bootcsum>/vmlinuz-<kver>`), exactly as in the BLS file; the
 * writers add the `/boot` prefix as ostree does.
 */
import { CanopyError } from '../core/errors';

/** A deployment's boot entry. */
export interface BootEntry {
  /** BLS `title`, shown in GRUB's menu. */
  title?: string;
  /** BLS `linux`: the kernel. */
  linux: string;
  /** BLS `initrd`: the initramfs. */
  initrd?: string;
  /** BLS `devicetree`: one device tree file. */
  devicetree?: string;
  /** BLS `fdtdir`: a directory of device trees (U-Boot picks `${fdtfile}` in it). */
  fdtdir?: string;
  /** BLS `options`: the kernel command line, with `ostree=`. */
  options?: string;
}

/** The prefix ostree puts before every path it writes for a boot loader. */
export const BOOT_PREFIX = '/boot';

const MAX_FIELD = 4096;

function invalid(where: string, field: string, why: string): CanopyError {
  return new CanopyError('ERR_BOOT_ENTRY_INVALID', `${where}: ${field} ${why}`, { where, field });
}

/**
 * Checks an entry's fields: paths absolute, no control characters anywhere (a newline
 * would inject a line into uEnv.txt or grub.cfg), lengths bounded.
 *
 * @throws ERR_BOOT_ENTRY_INVALID naming the entry and field.
 */
export function checkBootEntry(entry: BootEntry, where: string): void {
  if (typeof entry !== 'object' || entry === null) throw invalid(where, 'entry', 'is not an object');
  const fields: Array<[keyof BootEntry, boolean]> = [
    ['linux', true], ['initrd', true], ['devicetree', true], ['fdtdir', true], ['options', false], ['title', false],
  ];
  if (typeof entry.linux !== 'string') throw invalid(where, 'linux', 'is missing');
  for (const [field, isPath] of fields) {
    const value = entry[field];
    if (value === undefined) continue;
    if (typeof value !== 'string') throw invalid(where, field, 'is not a string');
    if (value.length > MAX_FIELD) throw invalid(where, field, `is longer than ${MAX_FIELD} characters`);
    if (/[\u0000-\u001f\u007f]/.test(value)) throw invalid(where, field, 'contains a control character');
    if (isPath && (!value.startsWith('/') || /\s/.test(value))) throw invalid(where, field, `${JSON.stringify(value)} is not an absolute path without spaces`);
  }
}
