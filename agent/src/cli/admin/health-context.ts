/**
 * What `admin health` and `admin mark-good` share: which boot entry the running system
 * came from (from the sysroot's deployments and the booted hint), the boot-loader
 * backend and its env files, the boot id, and the reboot request.
 *
 * The boot loader's entries are the sysroot's deployments without a staged one, default
 * first; entry 0 is the default, any other counts as "the previous" (1) for the boot
 * contract.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import {
  createBootloaderBackend, detectBootloader, type BootloaderBackend, type BootloaderChoice, type EntryIndex,
} from '../../bootloader/index';
import { CanopyError } from '../../core/errors';
import { Repo } from '../../repo/index';
import { loadSysroot, type Deployment, type SysrootState } from '../../sysroot/index';
import type { OptionSpecs } from '../cli-args';
import { bootedHintFor } from './common';

export const HEALTH_BOOT_OPTIONS = {
  bootloader: { type: 'string', value: 'NAME', help: 'auto, uboot, grub or none (default: the repository\'s sysroot.bootloader, else detected)' },
  'fw-env-config': { type: 'string', value: 'PATH', help: 'U-Boot: the fw_env.config locating the env (default /etc/fw_env.config)' },
  grubenv: { type: 'string', value: 'PATH', help: 'GRUB: the grubenv (default: beside the detected grub.cfg); grubenv.redund beside it' },
  'state-dir': { type: 'string', value: 'PATH', help: 'Health state directory (default /var/lib/canopy/health)' },
} as const satisfies OptionSpecs;

/** The running boot as the boot contract sees it. */
export interface BootView {
  state: SysrootState;
  /** Deployments the boot loader lists, default first. */
  entries: Deployment[];
  booted: Deployment | undefined;
  /** null when the system did not boot from a deployment of this sysroot. */
  bootedEntry: EntryIndex | null;
}

/** Reads the sysroot and finds the booted entry. Throws the sysroot's ERR_SYSROOT_INVALID. */
export function bootView(sysroot: string): BootView {
  const state = loadSysroot(sysroot, { booted: bootedHintFor(sysroot) });
  const entries = state.deployments.filter((d) => !d.staged);
  const booted = state.booted;
  const index = booted ? entries.findIndex((d) => d.stateroot === booted.stateroot && d.csum === booted.csum && d.serial === booted.serial) : -1;
  return { state, entries, booted, bootedEntry: index < 0 ? null : index === 0 ? 0 : 1 };
}

/** Option values that choose the backend. */
export interface BackendChoice {
  bootloader?: string;
  'fw-env-config'?: string;
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
 * The boot-loader backend for `sysroot`.
 *
 * @throws ERR_INVALID_ARGUMENT for an unknown boot-loader name; ERR_CONFIG_INVALID for
 *   GRUB when no grubenv is given and none can be placed.
 */
export async function backendFor(sysroot: string, values: BackendChoice): Promise<BootloaderBackend> {
  const choice = (values.bootloader ?? configuredLoader(sysroot)) as BootloaderChoice;
  const detected = await detectBootloader(sysroot, choice);
  if (detected.name === 'uboot') {
    return createBootloaderBackend('uboot', { uboot: { fwEnvConfig: values['fw-env-config'] ?? '/etc/fw_env.config' } });
  }
  if (detected.name === 'grub') {
    let primary = values.grubenv;
    if (primary === undefined) {
      const cfg = detected.evidence && detected.evidence !== 'override' ? detected.evidence : 'boot/grub/grub.cfg';
      primary = join(sysroot, dirname(cfg), 'grubenv');
    }
    return createBootloaderBackend('grub', { grub: { primary, redundant: join(dirname(primary), 'grubenv.redund') } });
  }
  return createBootloaderBackend('none', {});
}

/** `/proc/sys/kernel/random/boot_id`. Throws ERR_IO when it cannot be read. */
export function readBootId(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch (e) {
    throw new CanopyError('ERR_IO', `cannot read the boot id: ${(e as Error).message}`, { path: '/proc/sys/kernel/random/boot_id' });
  }
}

/** Asks systemd for a reboot (`systemctl reboot`, no shell). Throws ERR_EXTERNAL_TOOL when it fails. */
export function systemReboot(): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('systemctl', ['reboot'], { stdio: 'ignore' });
    child.once('error', (e) => reject(new CanopyError('ERR_EXTERNAL_TOOL', `systemctl reboot: ${e.message}`, { tool: 'systemctl' })));
    child.once('exit', (code) => (code === 0 ? resolve()
      : reject(new CanopyError('ERR_EXTERNAL_TOOL', `systemctl reboot exited with status ${String(code)}`, { tool: 'systemctl' }))));
  });
}
