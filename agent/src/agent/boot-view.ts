/**
 * How the agent sees the running boot: which deployment of the sysroot is
 * booted (from the kernel command line's `ostree=`, and on the real root
 * also the device and inode of `/`), which boot-loader entry that is, the
 * boot id, and the boot-loader backend that keeps the boot contract's
 * variables. Paths are parameters so a simulated device (a sysroot in a
 * temporary directory, its "kernel command line" and boot id in files) runs
 * the same code as a real one.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import {
  createBootloaderBackend, detectBootloader, type BootloaderBackend, type BootloaderChoice, type EntryIndex,
} from '../bootloader/index';
import { CanopyError } from '../core/errors';
import { Repo } from '../repo/index';
import { loadSysroot, type BootedHint, type Deployment, type SysrootState } from '../sysroot/index';

/** Where the boot facts come from. */
export interface BootSources {
  /** The sysroot (default `/`). */
  sysroot: string;
  /** The kernel command line (default `/proc/cmdline`). */
  cmdlineFile: string;
  /** The boot id (default `/proc/sys/kernel/random/boot_id`). */
  bootIdFile: string;
  /** Where a staged deployment's record lives (default `/run`). */
  runDir: string;
}

export const DEFAULT_CMDLINE_FILE = '/proc/cmdline';
export const DEFAULT_BOOT_ID_FILE = '/proc/sys/kernel/random/boot_id';

/** The running boot as the boot contract sees it. */
export interface BootView {
  state: SysrootState;
  /** Deployments the boot loader lists, default first (a staged one left out). */
  entries: Deployment[];
  booted: Deployment | undefined;
  /** 0 default, 1 any other entry; null when the system did not boot from this sysroot. */
  bootedEntry: EntryIndex | null;
}

/** The booted hint for `src`. Only the real root (`/`) adds the device and inode of `/`. */
export function bootedHint(src: BootSources): BootedHint {
  const hint: BootedHint = {};
  if (resolve(src.sysroot) === '/' && existsSync('/run/ostree-booted')) {
    const st = statSync('/');
    hint.root = { dev: st.dev, ino: st.ino };
  }
  try {
    hint.cmdline = readFileSync(src.cmdlineFile, 'utf8');
  } catch {
    // no command line: nothing is booted from this sysroot
  }
  return hint;
}

/** Reads the sysroot and finds the booted entry. Throws the sysroot's ERR_SYSROOT_INVALID and ERR_IO. */
export function bootView(src: BootSources): BootView {
  return bootViewOf(loadSysroot(src.sysroot, { booted: bootedHint(src), runDir: src.runDir }));
}

/** The boot view of a loaded sysroot: its boot-loader entries and which of them is booted. Pure. */
export function bootViewOf(state: SysrootState): BootView {
  const entries = state.deployments.filter((d) => !d.staged);
  const booted = state.booted;
  const index = booted ? entries.findIndex((d) => d.stateroot === booted.stateroot && d.csum === booted.csum && d.serial === booted.serial) : -1;
  return { state, entries, booted, bootedEntry: index < 0 ? null : index === 0 ? 0 : 1 };
}

/** The boot id. Throws ERR_IO when it cannot be read or is empty. */
export function readBootId(file: string): string {
  let id: string;
  try {
    id = readFileSync(file, 'utf8').trim();
  } catch (e) {
    throw new CanopyError('ERR_IO', `cannot read the boot id from ${file}: ${(e as Error).message}`, { path: file });
  }
  if (id === '' || id.length > 128) throw new CanopyError('ERR_IO', `${file} holds no usable boot id`, { path: file });
  return id;
}

/** How the boot loader is chosen and where its env lives. */
export interface BackendChoice {
  /** auto, uboot, grub or none (default: the repository's `sysroot.bootloader`, else detected). */
  bootloader?: string;
  /** U-Boot: the fw_env.config (default /etc/fw_env.config). */
  fwEnvConfig?: string;
  /** GRUB: the primary grubenv (default beside the detected grub.cfg); `grubenv.redund` beside it. */
  grubenv?: string;
}

function configuredLoader(sysroot: string): string {
  try {
    return Repo.open(join(sysroot, 'ostree/repo')).config.get('sysroot', 'bootloader') ?? 'auto';
  } catch {
    return 'auto';
  }
}

/**
 * The boot-loader backend of `sysroot`.
 *
 * @throws ERR_INVALID_ARGUMENT for an unknown boot-loader name.
 */
export async function createBackend(sysroot: string, choice: BackendChoice): Promise<BootloaderBackend> {
  const detected = await detectBootloader(sysroot, (choice.bootloader ?? configuredLoader(sysroot)) as BootloaderChoice);
  if (detected.name === 'uboot') {
    return createBootloaderBackend('uboot', { uboot: { fwEnvConfig: choice.fwEnvConfig ?? '/etc/fw_env.config' } });
  }
  if (detected.name === 'grub') {
    let primary = choice.grubenv;
    if (primary === undefined) {
      const cfg = detected.evidence && detected.evidence !== 'override' ? detected.evidence : 'boot/grub/grub.cfg';
      primary = join(sysroot, dirname(cfg), 'grubenv');
    }
    return createBootloaderBackend('grub', { grub: { primary, redundant: join(dirname(primary), 'grubenv.redund') } });
  }
  return createBootloaderBackend('none', {});
}
