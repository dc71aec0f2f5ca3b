/**
 * A minimal ostree-shaped /boot for the boot-loader integration tests: each deployment id
 * gets a kernel and an initramfs under `boot/ostree/os-<id>/`, and the entries are written
 * into `boot/loader.N/` followed by an atomic swap of the `boot/loader` symlink, as the
 * sysroot code does on a device. The writers under test (uenv.ts, grub-entries.ts)
 * produce the entry files.
 */
import { mkdir, readlink, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BootEntry } from '../../../agent/src/bootloader/boot-entry';

const KVER = '6.1.0';

/** The boot entry of deployment `id` in bootversion `bootversion`. */
export function entryFor(id: string, bootversion: number): BootEntry {
  const dir = `/ostree/os-${id}`;
  return {
    title: `Canopy test OS ${id} (ostree:${id})`,
    linux: `${dir}/vmlinuz-${KVER}`,
    initrd: `${dir}/initramfs-${KVER}.img`,
    options: `root=LABEL=root rw ostree=/ostree/boot.${bootversion}/os/${id}/0`,
  };
}

/** The deployment id of a kernel path written for {@link entryFor}. */
export function deploymentOfKernel(path: string): string | null {
  const m = /\/ostree\/os-([^/]+)\/vmlinuz-/.exec(path);
  return m ? m[1] : null;
}

/** Creates the kernel and initramfs files of deployment `id` under `root`. */
export async function installDeployment(root: string, id: string, kernel: Uint8Array): Promise<void> {
  const dir = join(root, 'boot', 'ostree', `os-${id}`);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, `vmlinuz-${KVER}`), kernel);
  await writeFile(join(dir, `initramfs-${KVER}.img`), `initramfs ${id}\n`);
}

/** The kernel file of deployment `id`. */
export function kernelPath(root: string, id: string): string {
  return join(root, 'boot', 'ostree', `os-${id}`, `vmlinuz-${KVER}`);
}

/**
 * Writes `files` (name -> text) into the other bootversion's loader directory and swaps
 * `boot/loader` to it. Returns the new bootversion.
 */
export async function swapLoader(root: string, files: (bootversion: number) => Record<string, string>): Promise<number> {
  const boot = join(root, 'boot');
  let current = -1;
  try {
    current = Number((await readlink(join(boot, 'loader'))).replace('loader.', ''));
  } catch {
    // first write
  }
  const next = current === 0 ? 1 : 0;
  const dir = join(boot, `loader.${next}`);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  for (const [name, text] of Object.entries(files(next))) await writeFile(join(dir, name), text);
  await rm(join(boot, 'loader.tmp'), { force: true });
  await symlink(`loader.${next}`, join(boot, 'loader.tmp'));
  await rename(join(boot, 'loader.tmp'), join(boot, 'loader'));
  return next;
}
