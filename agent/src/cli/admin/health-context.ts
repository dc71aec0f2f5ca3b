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
import { bootViewOf, createBackend, DEFAULT_BOOT_ID_FILE, readBootId as readBootIdFile, type BootView } from '../../agent/boot-view';
import type { BootloaderBackend } from '../../bootloader/index';
import { CanopyError } from '../../core/errors';
import { loadSysroot } from '../../sysroot/index';
import type { OptionSpecs } from '../cli-args';
import { bootedHintFor } from './common';

export const HEALTH_BOOT_OPTIONS = {
  bootloader: { type: 'string', value: 'NAME', help: 'auto, uboot, grub or none (default: the repository\'s sysroot.bootloader, else detected)' },
  'fw-env-config': { type: 'string', value: 'PATH', help: 'U-Boot: the fw_env.config locating the env (default /etc/fw_env.config)' },
  grubenv: { type: 'string', value: 'PATH', help: 'GRUB: the grubenv (default: beside the detected grub.cfg); grubenv.redund beside it' },
  'state-dir': { type: 'string', value: 'PATH', help: 'Health state directory (default /var/lib/canopy/health)' },
} as const satisfies OptionSpecs;

/** Reads the sysroot and finds the booted entry (only `/` can be booted). Throws the sysroot's ERR_SYSROOT_INVALID. */
export function bootView(sysroot: string): BootView {
  return bootViewOf(loadSysroot(sysroot, { booted: bootedHintFor(sysroot) }));
}

/** Option values that choose the backend. */
export interface BackendOptionValues {
  bootloader?: string;
  'fw-env-config'?: string;
  grubenv?: string;
}

/**
 * The boot-loader backend for `sysroot`, as the agent chooses it.
 *
 * @throws ERR_INVALID_ARGUMENT for an unknown boot-loader name.
 */
export function backendFor(sysroot: string, values: BackendOptionValues): Promise<BootloaderBackend> {
  return createBackend(sysroot, { bootloader: values.bootloader, fwEnvConfig: values['fw-env-config'], grubenv: values.grubenv });
}

/** `/proc/sys/kernel/random/boot_id`. Throws ERR_IO when it cannot be read. */
export function readBootId(): string {
  return readBootIdFile(DEFAULT_BOOT_ID_FILE);
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
