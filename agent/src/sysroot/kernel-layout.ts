/**
 * Finding the kernel in a deployment and its boot checksum, as ostree 2022.7
 * does (`get_kernel_from_tree`):
 *
 * - `usr/lib/modules/<kver>/vmlinuz` (the first `<kver>` directory holding a
 *   regular `vmlinuz`; Canopy takes them in name order, ostree in directory
 *   order), with optional `initramfs.img` (or `initramfs`), `devicetree` (or
 *   a `dtb/` directory) and `.vmlinuz.hmac`. bootcsum = sha256(vmlinuz ‖
 *   initramfs ‖ devicetree), or with a `dtb/` directory, ‖ every file below
 *   it in sorted path order.
 * - legacy: the first of `usr/lib/ostree-boot` and `boot` that exists, with
 *   `vmlinuz-<kver>-<csum>` (and `initramfs-…-<csum>`, `devicetree-…-<csum>`,
 *   all with the same checksum), which is the bootcsum.
 *
 * When both exist, the modules layout wins unless only the legacy one has an
 * initramfs. Installed names: `vmlinuz-<kver>`, `initramfs-<kver>.img`,
 * `devicetree-<kver>` (legacy: the name without `-<csum>`).
 */
import { createHash, type Hash } from 'node:crypto';
import { lstatSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { join, sep } from 'node:path';
import { isChecksum } from '../core/bytes';
import { CanopyError, ioError } from '../core/errors';
import { hashFileInto } from '../platform/hash-file';

/** One file to install into `boot/ostree/<os>-<bootcsum>/`. */
export interface BootFile {
  /** Absolute source path inside the deployment. */
  src: string;
  /** Name in the boot checksum directory. */
  name: string;
}

export interface KernelLayout {
  bootcsum: string;
  kernel: BootFile;
  initramfs?: BootFile;
  /** A single device tree file. */
  devicetree?: BootFile;
  /** A whole directory of device trees (`dtb`), copied as it is; BLS `fdtdir`. */
  dtbDir?: BootFile;
  hmac?: BootFile;
}

const byBytes = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b));

function statFollow(p: string): ReturnType<typeof statSync> | undefined {
  try {
    return statSync(p);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw ioError(e, 'stat', p);
  }
}

function hashDir(h: Hash, dir: string): void {
  for (const name of readdirSync(dir).sort(byBytes)) {
    const p = join(dir, name);
    const st = lstatSync(p);
    if (st.isDirectory()) hashDir(h, p);
    else if (statFollow(p)) hashFileInto(h, p);
  }
}

function modulesLayout(root: string): KernelLayout | undefined {
  const modules = join(root, 'usr/lib/modules');
  let names: string[];
  try {
    names = readdirSync(modules, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name).sort(byBytes);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw ioError(e, 'read directory', modules);
  }
  const kver = names.find((n) => statFollow(join(modules, n, 'vmlinuz'))?.isFile());
  if (kver === undefined) return undefined;
  const dir = join(modules, kver);
  const h = createHash('sha256');
  const layout: Partial<KernelLayout> = { kernel: { src: join(dir, 'vmlinuz'), name: `vmlinuz-${kver}` } };
  hashFileInto(h, layout.kernel!.src);
  const initramfs = ['initramfs.img', 'initramfs'].find((n) => statFollow(join(dir, n)));
  if (initramfs) {
    layout.initramfs = { src: join(dir, initramfs), name: `initramfs-${kver}.img` };
    hashFileInto(h, layout.initramfs.src);
  }
  if (statFollow(join(dir, 'devicetree'))) {
    layout.devicetree = { src: join(dir, 'devicetree'), name: `devicetree-${kver}` };
    hashFileInto(h, layout.devicetree.src);
  } else if (statFollow(join(dir, 'dtb'))?.isDirectory()) {
    layout.dtbDir = { src: join(dir, 'dtb'), name: 'dtb' };
    hashDir(h, layout.dtbDir.src);
  }
  if (statFollow(join(dir, '.vmlinuz.hmac'))) layout.hmac = { src: join(dir, '.vmlinuz.hmac'), name: `.vmlinuz-${kver}.hmac` };
  layout.bootcsum = h.digest('hex');
  return layout as KernelLayout;
}

function legacyLayout(root: string): KernelLayout | undefined {
  const dir = ['usr/lib/ostree-boot', 'boot'].map((d) => join(root, d)).find((d) => statFollow(d)?.isDirectory());
  if (!dir) return undefined;
  const found: Record<'vmlinuz' | 'initramfs' | 'devicetree', { file: BootFile; csum: string } | undefined> = { vmlinuz: undefined, initramfs: undefined, devicetree: undefined };
  for (const name of readdirSync(dir).sort(byBytes)) {
    for (const kind of ['vmlinuz', 'initramfs', 'devicetree'] as const) {
      if (found[kind] || !name.startsWith(`${kind}-`)) continue;
      const dash = name.lastIndexOf('-');
      const csum = name.slice(dash + 1);
      if (isChecksum(csum)) found[kind] = { file: { src: join(dir, name), name: name.slice(0, dash) }, csum };
      break;
    }
    if (found.vmlinuz && found.initramfs && found.devicetree) break;
  }
  if (!found.vmlinuz) return undefined;
  for (const kind of ['initramfs', 'devicetree'] as const) {
    if (found[kind] && found[kind]!.csum !== found.vmlinuz.csum) {
      throw new CanopyError('ERR_KERNEL_NOT_FOUND', `${dir}: the ${kind} checksum does not match the kernel's`, { path: dir });
    }
  }
  return { bootcsum: found.vmlinuz.csum, kernel: found.vmlinuz.file, initramfs: found.initramfs?.file, devicetree: found.devicetree?.file };
}

/**
 * The kernel layout of the tree at `root` (a deployment directory).
 *
 * Throws ERR_KERNEL_NOT_FOUND when the tree has no kernel in either layout
 * (or a legacy layout's checksums disagree), ERR_IO.
 */
export function findKernelLayout(root: string): KernelLayout {
  const modules = modulesLayout(root);
  const legacy = legacyLayout(root);
  let chosen: KernelLayout;
  if (!legacy) {
    if (!modules) throw new CanopyError('ERR_KERNEL_NOT_FOUND', `no kernel in ${root}: looked in /usr/lib/modules, /usr/lib/ostree-boot and /boot`, { path: root });
    chosen = modules;
  } else {
    chosen = modules && !(modules.initramfs === undefined && legacy.initramfs !== undefined) ? modules : legacy;
  }
  return confine(root, chosen);
}

/**
 * Resolves every source to its real path and refuses one that leaves the
 * tree (an absolute or `..` symlink in a hostile commit would otherwise copy
 * a file of the running system into /boot). Throws ERR_UNSAFE_PATH.
 */
function confine(root: string, l: KernelLayout): KernelLayout {
  const base = realpathSync(root);
  const fix = (f: BootFile | undefined): BootFile | undefined => {
    if (!f) return undefined;
    const real = realpathSync(f.src);
    if (!real.startsWith(base + sep)) throw new CanopyError('ERR_UNSAFE_PATH', `${f.src} resolves to ${real}, outside the deployment`, { path: f.src });
    return { src: real, name: f.name };
  };
  return { bootcsum: l.bootcsum, kernel: fix(l.kernel)!, initramfs: fix(l.initramfs), devicetree: fix(l.devicetree), dtbDir: fix(l.dtbDir), hmac: fix(l.hmac) };
}

/** Every file of the layout that is installed into the boot checksum directory (not the dtb directory). */
export function layoutFiles(l: KernelLayout): BootFile[] {
  return [l.kernel, l.initramfs, l.devicetree, l.hmac].filter((f): f is BootFile => f !== undefined);
}
