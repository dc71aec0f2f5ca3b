/**
 * Which boot loader a sysroot uses, by ostree's rules (`sysroot.bootloader=auto`): GRUB
 * when `boot/grub/grub.cfg` or `boot/grub2/grub.cfg` exists (symlinks followed) or an
 * `boot/efi/EFI/<vendor>/grub.cfg` other than `EFI/BOOT`; else U-Boot when
 * `boot/loader/uEnv.txt` is a regular file (the `boot/loader` symlink followed, the file
 * itself not); else none. ostree probes syslinux before both; Canopy has no syslinux
 * backend, so a syslinux-only sysroot is "none".
 */
import { lstat, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { CanopyError, ioError } from '../core/errors';
import type { BootloaderName } from './backend';

/** What {@link detectBootloader} found. */
export interface DetectedBootloader {
  name: BootloaderName;
  /** The sysroot-relative path that decided, or `override` / null (nothing found). */
  evidence: string | null;
}

/** The accepted values of an explicit choice (`auto` detects). */
export type BootloaderChoice = BootloaderName | 'auto';

async function exists(path: string, follow: boolean): Promise<'file' | 'dir' | 'other' | null> {
  try {
    const st = follow ? await stat(path) : await lstat(path);
    return st.isFile() ? 'file' : st.isDirectory() ? 'dir' : 'other';
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP') return null;
    throw ioError(e, 'stat', path);
  }
}

/**
 * Detects the boot loader of the sysroot at `sysrootPath`, or returns the explicit
 * `choice` when it is not `auto`.
 *
 * @throws ERR_INVALID_ARGUMENT for an unknown choice; ERR_IO and friends when a probe fails
 *   for another reason than a missing file.
 */
export async function detectBootloader(sysrootPath: string, choice: BootloaderChoice = 'auto'): Promise<DetectedBootloader> {
  if (choice === 'uboot' || choice === 'grub' || choice === 'none') return { name: choice, evidence: 'override' };
  if (choice !== 'auto') {
    throw new CanopyError('ERR_INVALID_ARGUMENT', `boot loader ${JSON.stringify(choice)} is not auto, uboot, grub or none`, { choice: String(choice) });
  }
  for (const rel of ['boot/grub/grub.cfg', 'boot/grub2/grub.cfg']) {
    if (await exists(join(sysrootPath, rel), true) !== null) return { name: 'grub', evidence: rel };
  }
  const efi = join(sysrootPath, 'boot/efi/EFI');
  if (await exists(efi, true) === 'dir') {
    let names: string[];
    try {
      names = (await readdir(efi)).sort();
    } catch (e) {
      throw ioError(e, 'readdir', efi);
    }
    for (const vendor of names) {
      if (vendor === 'BOOT' || await exists(join(efi, vendor), false) !== 'dir') continue;
      const rel = `boot/efi/EFI/${vendor}/grub.cfg`;
      if (await exists(join(sysrootPath, rel), true) !== null) return { name: 'grub', evidence: rel };
    }
  }
  if (await exists(join(sysrootPath, 'boot/loader/uEnv.txt'), false) === 'file') {
    return { name: 'uboot', evidence: 'boot/loader/uEnv.txt' };
  }
  return { name: 'none', evidence: null };
}
