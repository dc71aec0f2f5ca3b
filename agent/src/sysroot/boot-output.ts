/**
 * The boot-loader output written beside the BLS entries in
 * `boot/loader.<B'>/` before the loader swap, so the swap switches it
 * atomically: a thin adapter over the bootloader module's writers
 * (`uEnv.txt` as ostree's U-Boot backend writes it; `grub-entries.cfg`, the
 * menu grub/canopy.cfg sources) behind the {@link BootOutput} interface, so
 * callers and tests can plug in another writer.
 *
 * Selection follows the repository's `sysroot.bootloader` (`auto` when
 * unset; ostree's `grub2` means GRUB) through the bootloader module's
 * detection: GRUB when a grub.cfg exists, else U-Boot when
 * `boot/loader/uEnv.txt` is a regular file, else none (BLS entries only, for
 * boot loaders that read them, such as GRUB with blscfg or systemd-boot).
 */
import { CanopyError } from '../core/errors';
import { GRUB_ENTRIES_FILE, UENV_FILE, detectBootloader, generateGrubEntries, serializeUenv, type BootEntry } from '../bootloader/index';
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
  render: ({ entries, systemUenv }) => [{ name: UENV_FILE, content: serializeUenv(entries.map(toBootEntry), { systemUenv }) }],
};

/** GRUB menu entries for GRUBs without blscfg. */
export const grubOutput: BootOutput = {
  name: 'grub',
  render: ({ entries }) => [{ name: GRUB_ENTRIES_FILE, content: generateGrubEntries(entries.map(toBootEntry)) }],
};

/** BLS entries only. */
export const noneOutput: BootOutput = { name: 'none', render: () => [] };

const OUTPUTS = { uboot: ubootOutput, grub: grubOutput, none: noneOutput } as const;

/**
 * The output for the sysroot: `choice` is the repository's
 * `sysroot.bootloader` (`auto`, `none`, `uboot`, `grub2`/`grub`).
 *
 * Throws ERR_CONFIG_INVALID for a boot loader Canopy cannot write for, ERR_IO.
 */
export async function selectBootOutput(sysroot: string, choice = 'auto'): Promise<BootOutput> {
  const c = choice === 'grub2' ? 'grub' : choice;
  if (c !== 'auto' && c !== 'uboot' && c !== 'grub' && c !== 'none') {
    throw new CanopyError('ERR_CONFIG_INVALID', `sysroot.bootloader=${choice} is not supported (auto, none, uboot, grub2)`, { bootloader: choice });
  }
  return OUTPUTS[(await detectBootloader(sysroot, c)).name];
}
