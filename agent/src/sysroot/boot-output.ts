/**
 * The boot-loader output written beside the BLS entries in
 * `boot/loader.<B'>/` before the loader swap, so the swap switches it
 * atomically. This is a thin adapter over the bootloader module's writers
 * behind the {@link BootOutput} interface, so callers (and tests) can swap
 * in another writer.
 *
 * Selection follows the repository's `sysroot.bootloader` (`auto` when
 * unset): `auto` probes GRUB (`boot/grub/grub.cfg`, `boot/grub2/grub.cfg`)
 * and then U-Boot (`boot/loader/uEnv.txt` a regular file), else none (BLS
 * entries only, e.g. for GRUB with blscfg or systemd-boot).
 */
import { lstatSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CanopyError } from '../core/errors';
import { serializeUenv } from '../bootloader/uenv';
import type { BootEntry } from '../bootloader/boot-entry';
import type { BlsEntry } from './bls-entry';

/** What a backend needs to render its files. */
export interface BootOutputInput {
  /** The new entries, default first. */
  entries: readonly BlsEntry[];
  /** The default deployment's `usr/lib/ostree-boot/uEnv.txt`, when it has one. */
  systemUenv?: string;
}

export interface BootOutput {
  readonly name: 'uboot' | 'grub' | 'none';
  /** Files (name in `boot/loader.<B'>/` and content) to write. Throws ERR_BOOT_ENTRY_INVALID for an unusable entry. */
  render(input: BootOutputInput): Array<{ name: string; content: string }>;
}

/** An entry in the form the bootloader writers take. */
export function toBootEntry(e: BlsEntry): BootEntry {
  const linux = e.get('linux');
  if (linux === undefined) throw new CanopyError('ERR_BOOT_ENTRY_INVALID', 'a boot entry has no linux key', {});
  return { title: e.get('title'), linux, initrd: e.get('initrd'), devicetree: e.get('devicetree'), fdtdir: e.get('fdtdir'), options: e.get('options') };
}

/** ostree's U-Boot backend: `uEnv.txt`. */
export const ubootOutput: BootOutput = {
  name: 'uboot',
  render: ({ entries, systemUenv }) => [{ name: 'uEnv.txt', content: serializeUenv(entries.map(toBootEntry), { systemUenv }) }],
};

/** BLS entries only. */
export const noneOutput: BootOutput = { name: 'none', render: () => [] };

/** GRUB without blscfg needs a menu; until a writer is plugged in, deploying refuses rather than leave GRUB on old entries. */
export const grubOutputUnavailable: BootOutput = {
  name: 'grub',
  render: () => {
    throw new CanopyError('ERR_BOOT_STATE', 'this sysroot boots with GRUB, and no GRUB menu writer is configured; set sysroot.bootloader=none in the repository config when GRUB reads the BLS entries itself (blscfg)', { loader: 'grub' });
  },
};

function exists(p: string, follow: boolean): boolean {
  try {
    return (follow ? statSync(p) : lstatSync(p)) !== undefined;
  } catch {
    return false;
  }
}

/**
 * The output for the sysroot: `choice` is the repository's
 * `sysroot.bootloader` (`auto`, `none`, `uboot`, `grub2`).
 *
 * Throws ERR_CONFIG_INVALID for a boot loader Canopy cannot write for.
 */
export function selectBootOutput(sysroot: string, choice = 'auto', grub: BootOutput = grubOutputUnavailable): BootOutput {
  switch (choice) {
    case 'none': return noneOutput;
    case 'uboot': return ubootOutput;
    case 'grub2': case 'grub': return grub;
    case 'auto': break;
    default: throw new CanopyError('ERR_CONFIG_INVALID', `sysroot.bootloader=${choice} is not supported (auto, none, uboot, grub2)`, { bootloader: choice });
  }
  if (exists(join(sysroot, 'boot/grub/grub.cfg'), true) || exists(join(sysroot, 'boot/grub2/grub.cfg'), true)) return grub;
  try {
    if (lstatSync(join(sysroot, 'boot/loader/uEnv.txt')).isFile()) return ubootOutput;
  } catch {
    // absent
  }
  return noneOutput;
}
