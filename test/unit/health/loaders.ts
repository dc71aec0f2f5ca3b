/**
 * Real boot-loader backends over temp env files for the health tests, and a boot
 * simulator: the contract's boot step (the model the U-Boot script and the GRUB snippet
 * are proven against) applied to the stored env, so a test can "reboot" the device.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  bootOnce, createBootloaderBackend, loadFwEnvConfig, updateGrubEnvFiles, updateUbootEnvFile, writeGrubEnvFiles, writeUbootEnvFile,
  type BootloaderBackend, type EntryIndex, type LoaderKind,
} from '../../../agent/src/bootloader/index';

export const BOARD = { bootcmd: 'run distro_bootcmd', bootdelay: '0' };

export interface Device {
  kind: LoaderKind;
  dir: string;
  backend: BootloaderBackend;
  /** Commits of the boot entries, default first (what uEnv.txt / grub-entries.cfg list). */
  entries: string[];
  /** fw_env.config (U-Boot) or grubenv (GRUB). */
  envFile: string;
  /** One boot: the boot loader's step on the stored env; returns the entry that started. */
  boot(): Promise<EntryIndex>;
}

/** A device with an empty trial state, its env in `dir`. */
export async function makeDevice(kind: LoaderKind, dir: string, entries: string[]): Promise<Device> {
  let envFile: string;
  let backend: BootloaderBackend;
  let write: (changes: Record<string, string | null>) => Promise<void>;
  if (kind === 'uboot') {
    envFile = join(dir, 'fw_env.config');
    await writeFile(join(dir, 'env.bin'), new Uint8Array(0x4000));
    await writeFile(envFile, `${join(dir, 'env.bin')} 0x0 0x2000\n${join(dir, 'env.bin')} 0x2000 0x2000\n`);
    const config = await loadFwEnvConfig(envFile);
    await writeUbootEnvFile(config, BOARD, {});
    backend = createBootloaderBackend('uboot', { uboot: { fwEnvConfig: envFile } });
    write = async (changes) => { await updateUbootEnvFile(config, changes, {}); };
  } else {
    envFile = join(dir, 'grubenv');
    const paths = { primary: envFile, redundant: join(dir, 'grubenv.redund') };
    await writeGrubEnvFiles(paths, { saved_entry: 'keep' });
    backend = createBootloaderBackend('grub', { grub: paths });
    write = async (changes) => { await updateGrubEnvFiles(paths, changes); };
  }
  const device: Device = {
    kind, dir, backend, entries, envFile,
    async boot() {
      const before = (await backend.readState()).env;
      const r = bootOnce(kind, before, { entries: device.entries.length });
      if (r.saved) {
        const changes: Record<string, string | null> = {};
        for (const k of new Set([...Object.keys(before), ...Object.keys(r.env)])) {
          if (before[k] !== r.env[k]) changes[k] = r.env[k] ?? null;
        }
        await write(changes);
      }
      if (r.entry === null) throw new Error('nothing booted');
      return r.entry;
    },
  };
  return device;
}

/** Stages `commit` as the contract orders it: the env first, then the entries `[new, running]`. */
export async function stage(device: Device, commit: string, running: string, tries = 3): Promise<void> {
  await device.backend.stageTrial({ tries });
  device.entries = [commit, running];
}
