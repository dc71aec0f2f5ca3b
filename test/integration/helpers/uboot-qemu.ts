/**
 * Real U-Boot (Debian's qemu_arm64 build) under qemu-system-aarch64, no KVM. Each boot
 * packs a fresh virtio disk: partition 1 FAT (boot.scr, the state files) and partition 2
 * ext4 (a test sysroot: boot/loader -> loader.N with uEnv.txt, kernels). U-Boot's distro
 * boot finds boot.scr (uboot/boot.cmd), the script picks an entry, and `booti` starts a
 * tiny arm64 image that prints its deployment's tag and powers off.
 *
 * U-Boot's env lives in pflash bank 1 (fw_env.config `flash1.img 0x0 0x40000 0x40000`).
 * A valid flash env replaces U-Boot's defaults entirely, so the board env written there
 * is the captured default env plus the test's settings. QEMU 7.2 cannot take a
 * `saveenv` to pflash (QEMU issue 2343), so the trial state lives in state files on the
 * FAT partition (`canopy_envfile`), as on boards with ENV_IS_IN_FAT; the saveenv mode
 * runs with a read-only flash, where saveenv fails cleanly: the "cannot save" case.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, open, readFile, rename, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createUbootBackend, type BootloaderBackend } from '../../../agent/src/bootloader/backend';
import type { ContractVector } from '../../../agent/src/bootloader/contract-vectors';
import { serializeUenv } from '../../../agent/src/bootloader/uenv';
import {
  nodeEnvBlockIo, parseFwEnvConfig, readUbootEnvFile, writeUbootEnvFile, type EnvBlockIo, type FwEnvConfig,
} from '../../../agent/src/bootloader/uboot-env-file';
import { arm64TestKernel } from './arm64-kernel';
import { entryFor, installDeployment, kernelPath, swapLoader } from './sysroot-fixture';
import type { BootRecord, Machine } from './vector-runner';

/** Debian u-boot-qemu's build for QEMU's arm64 virt machine. */
export const UBOOT_BIN = '/usr/lib/u-boot/qemu_arm64/u-boot.bin';
const FLASH_BYTES = 64 * 1024 * 1024;
const FLASH_CONFIG = parseFwEnvConfig('flash1.img 0x0 0x40000 0x40000\n');
const STATE_SIZE = 0x4000;
const PART2_OFFSET = 18432 * 512;
/** Variables U-Boot sets at run time; they do not belong in a saved env. */
const RUNTIME_VARS = ['fdtcontroladdr', 'fileaddr', 'filesize', 'stdin', 'stdout', 'stderr', 'bootfstype', 'devplist'];
const MTOOLS_ENV = { ...process.env, MTOOLS_SKIP_CHECK: '1' };

/** Where the trial state lives. */
export type UbootStateMode = 'redundant-files' | 'single-file' | 'saveenv';

/** The first missing tool, named with its Debian package, or null. */
export function ubootQemuMissing(): string | null {
  const tools: Array<[string, string]> = [['qemu-system-aarch64', 'qemu-system-arm'], ['mkimage', 'u-boot-tools'],
    ['mformat', 'mtools'], ['mcopy', 'mtools'], ['sfdisk', 'fdisk'], ['mke2fs', 'e2fsprogs']];
  for (const [tool, pkg] of tools) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) return `${tool} (Debian package ${pkg})`;
  }
  return existsSync(UBOOT_BIN) ? null : `${UBOOT_BIN} (Debian package u-boot-qemu)`;
}

function runTool(cmd: string, args: string[], cwd: string, input?: string): string {
  const r = spawnSync(cmd, args, { cwd, input, encoding: 'utf8', timeout: 30_000, env: MTOOLS_ENV });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

/** Compiles a boot script as the docs say: mkimage -A arm64 -T script -C none. */
export function compileBootScript(source: string, output: string, cwd: string): void {
  runTool('mkimage', ['-A', 'arm64', '-T', 'script', '-C', 'none', '-n', 'canopy', '-d', source, output], cwd);
}

/** Packs `fatFiles` into partition 1 and `rootDir` into partition 2 of `cwd/disk.img`. */
async function buildDisk(cwd: string, fatFiles: string[], rootDir: string | null): Promise<void> {
  const disk = join(cwd, 'disk.img');
  if (!existsSync(disk)) {
    await writeFile(disk, '');
    await truncate(disk, 26 * 1024 * 1024);
    runTool('sfdisk', ['-q', 'disk.img'], cwd, `start=2048, size=16384, type=c, bootable\nstart=18432, type=83\n`);
  }
  runTool('mformat', ['-i', 'disk.img@@1M', '-v', 'BOOT', '::'], cwd);
  runTool('mcopy', ['-o', '-i', 'disk.img@@1M', ...fatFiles, '::/'], cwd);
  if (rootDir) runTool('mke2fs', ['-q', '-F', '-t', 'ext4', '-d', rootDir, '-E', `offset=${PART2_OFFSET},nodiscard`, 'disk.img', '16M'], cwd);
}

/** Boots QEMU once; stops at the kernel's power-off, a reset, a U-Boot prompt or the timeout. */
function runQemu(cwd: string, readonlyFlash: boolean, timeoutMs = 60_000): Promise<string> {
  const args = ['-M', 'virt', '-cpu', 'cortex-a57', '-m', '256', '-smp', '1', '-nographic', '-nic', 'none', '-no-reboot',
    '-monitor', 'none', '-serial', 'stdio', '-bios', UBOOT_BIN,
    '-drive', `if=pflash,format=raw,index=1,file=flash1.img${readonlyFlash ? ',readonly=on' : ''}`,
    '-drive', 'if=none,file=disk.img,format=raw,id=hd0', '-device', 'virtio-blk-device,drive=hd0'];
  return new Promise((resolve, reject) => {
    const child = spawn('qemu-system-aarch64', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const onData = (d: Buffer): void => {
      out += d.toString('latin1');
      if (/\n=> $/.test(out)) child.kill('SIGKILL'); // stuck at the U-Boot prompt
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', () => {
      clearTimeout(timer);
      resolve(out.replace(/\r/g, ''));
    });
  });
}

/** Parses `env export -t` output: sorted name=value lines, ended by NUL. */
function parseExportText(text: string): Map<string, string> {
  const vars = new Map<string, string>();
  for (const line of text.split('\0')[0].split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) vars.set(line.slice(0, eq), line.slice(eq + 1));
  }
  return vars;
}

/**
 * Boots U-Boot once with a blank flash (its built-in env) and a script that exports that
 * env to the FAT partition, in a new directory under `parent`. Returns the env without
 * the run-time variables.
 */
export async function captureDefaultEnv(parent: string): Promise<Map<string, string>> {
  const cwd = join(parent, 'capture-default-env');
  await mkdir(cwd);
  await writeFile(join(cwd, 'capture.cmd'), 'env export -t ${kernel_addr_r}\nfatwrite virtio 0:1 ${kernel_addr_r} defenv.txt ${filesize}\npoweroff\n');
  compileBootScript('capture.cmd', 'boot.scr', cwd);
  await writeFile(join(cwd, 'flash1.img'), '');
  await truncate(join(cwd, 'flash1.img'), FLASH_BYTES);
  await buildDisk(cwd, ['boot.scr'], null);
  const log = await runQemu(cwd, false);
  runTool('mcopy', ['-o', '-i', 'disk.img@@1M', '::/defenv.txt', 'defenv.txt'], cwd);
  const vars = parseExportText(await readFile(join(cwd, 'defenv.txt'), 'latin1'));
  if (!vars.has('distro_bootcmd')) throw new Error(`could not capture U-Boot's default env:\n${log}`);
  for (const name of RUNTIME_VARS) vars.delete(name);
  return vars;
}

/** A U-Boot machine in `dir` running the compiled boot script `bootScr`. */
export class UbootQemuMachine implements Machine {
  readonly kind = 'uboot' as const;
  readonly backend: BootloaderBackend;
  private readonly esp: string;
  private readonly root: string;
  readonly stateConfig: FwEnvConfig;

  constructor(private readonly dir: string, private readonly defaults: ReadonlyMap<string, string>,
    private readonly bootScr: Uint8Array, private readonly mode: UbootStateMode) {
    this.esp = join(dir, 'esp');
    this.root = join(dir, 'root');
    this.stateConfig = mode === 'saveenv' ? FLASH_CONFIG
      : parseFwEnvConfig(mode === 'redundant-files' ? 'uboot.env 0x0 0x4000\nuboot-redund.env 0x0 0x4000\n' : 'uboot.env 0x0 0x4000\n');
    this.backend = this.makeBackend(nodeEnvBlockIo);
  }

  /** The directory that fw_env.config's relative paths start from. */
  get stateBase(): string {
    return this.mode === 'saveenv' ? this.dir : this.esp;
  }

  private makeBackend(io: EnvBlockIo): BootloaderBackend {
    return createUbootBackend({
      fwEnvConfig: this.stateConfig, baseDir: this.stateBase, io,
      // a state file may start empty; U-Boot's own env never may (it replaces the defaults)
      initialEnv: this.mode === 'saveenv' ? undefined : {},
    });
  }

  /** The board env: U-Boot's defaults, no boot delay, only the virtio disk, where things are. */
  private boardEnv(): Map<string, string> {
    const env = new Map(this.defaults);
    env.set('bootdelay', '0');
    env.set('boot_targets', 'virtio0');
    env.set('canopy_sysroot', 'virtio 0:2');
    if (this.mode !== 'saveenv') env.set('canopy_envfile', 'uboot.env');
    if (this.mode === 'redundant-files') env.set('canopy_envfile_redund', 'uboot-redund.env');
    return env;
  }

  async setup(vector: ContractVector): Promise<void> {
    await mkdir(this.esp, { recursive: true });
    await mkdir(join(this.root, 'boot'), { recursive: true });
    await writeFile(join(this.esp, 'boot.scr'), this.bootScr);
    await writeFile(join(this.dir, 'flash1.img'), '');
    await truncate(join(this.dir, 'flash1.img'), FLASH_BYTES);
    const board = this.boardEnv();
    if (this.mode === 'saveenv') {
      for (const [k, v] of Object.entries(vector.env.uboot ?? {})) board.set(k, v);
      await writeUbootEnvFile(FLASH_CONFIG, board, { baseDir: this.dir });
    } else {
      await writeUbootEnvFile(FLASH_CONFIG, board, { baseDir: this.dir });
      for (const device of this.stateConfig.devices) await writeFile(join(this.esp, device.path), new Uint8Array(STATE_SIZE));
      await writeUbootEnvFile(this.stateConfig, vector.env.uboot ?? {}, { baseDir: this.esp });
    }
    const ids = new Set([...vector.entries, ...vector.steps.flatMap((s) => (s.do === 'stage' ? [s.deployment] : []))]);
    for (const id of ids) await installDeployment(this.root, id, arm64TestKernel(id));
    await this.writeEntries(vector.entries);
  }

  tornBackend(): BootloaderBackend {
    let armed = true;
    return this.makeBackend({
      read: nodeEnvBlockIo.read,
      async write(path, offset, bytes) {
        if (!armed) return nodeEnvBlockIo.write(path, offset, bytes);
        armed = false;
        // crc, flags and the first bytes of the data: the rest of the copy keeps its old
        // bytes, so the crc cannot match (a cut after the data's end would not be a tear)
        await nodeEnvBlockIo.write(path, offset, bytes.subarray(0, 16));
        throw new Error('power cut');
      },
    });
  }

  async writeEntries(ids: string[]): Promise<void> {
    await swapLoader(this.root, (bv) => ({ 'uEnv.txt': serializeUenv(ids.map((id) => entryFor(id, bv))) }));
  }

  async corruptEnv(): Promise<void> {
    const { copy } = await readUbootEnvFile(this.stateConfig, { baseDir: this.stateBase });
    const device = this.stateConfig.devices[copy];
    const fh = await open(join(this.stateBase, device.path), 'r+');
    try {
      await fh.write(new Uint8Array(512), 0, 512, device.offset);
    } finally {
      await fh.close();
    }
  }

  async boot(unloadable: string[]): Promise<BootRecord> {
    const stateFiles = this.mode === 'saveenv' ? [] : this.stateConfig.devices.map((d) => d.path);
    for (const id of unloadable) await rename(kernelPath(this.root, id), `${kernelPath(this.root, id)}.away`);
    try {
      await buildDisk(this.dir, [join('esp', 'boot.scr'), ...stateFiles.map((f) => join('esp', f))], this.root);
    } finally {
      for (const id of unloadable) await rename(`${kernelPath(this.root, id)}.away`, kernelPath(this.root, id));
    }
    const log = await runQemu(this.dir, this.mode === 'saveenv');
    for (const f of stateFiles) runTool('mcopy', ['-o', '-i', 'disk.img@@1M', `::/${f}`, join('esp', f)], this.dir);
    const m = /CANOPY-KERNEL (\S+)/.exec(log);
    return { deployment: m ? m[1] : null, log: log.slice(log.indexOf('## Executing script')) };
  }
}
