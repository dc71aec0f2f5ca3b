/**
 * Real GRUB (Debian's grub-emu, a normal process) booting an ext4 image of a test
 * sysroot whose /boot/grub/grub.cfg is grub/canopy.cfg, with the agent's grubenv copies
 * and generated menu entries. grub-emu has no `linux`/`initrd` loaders, so a test stub
 * defines them as GRUB functions (functions defined before `configfile` stay visible):
 * `linux` checks the kernel file exists, `initrd` then prints the chosen kernel and halts;
 * a missing kernel leaves nothing loaded, the entry fails, and GRUB's real `fallback`
 * logic takes over. `save_env` cannot write `(host)` files, hence the ext4 image
 * (mke2fs -d) and debugfs to copy grubenv back after each boot.
 */
import { spawn, spawnSync } from 'node:child_process';
import { copyFile, mkdir, readFile, rename, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createGrubBackend, type BootloaderBackend } from '../../../agent/src/bootloader/backend';
import { generateGrubEntries } from '../../../agent/src/bootloader/grub-entries';
import { writeGrubEnvFiles, type GrubEnvFileIo, nodeGrubEnvFileIo } from '../../../agent/src/bootloader/grubenv-file';
import type { ContractVector } from '../../../agent/src/bootloader/contract-vectors';
import { deploymentOfKernel, entryFor, installDeployment, kernelPath, swapLoader } from './sysroot-fixture';
import type { BootRecord, Machine } from './vector-runner';

/** The directory of grub-emu's modules. */
export const GRUB_EMU_MODULES = '/usr/lib/grub/x86_64-emu';

const STUB = `set enable_progress_indicator=0
export enable_progress_indicator
insmod ext2
insmod halt
set root=(hd0)
function linux {
  if [ -f "$1" ]; then set canopy_shim_kernel="$1"; else echo "CANOPY-SHIM: kernel $1 is missing"; unset canopy_shim_kernel; fi
}
function initrd {
  if [ -n "\${canopy_shim_kernel}" -a -f "$1" ]; then
    echo "CANOPY-SHIM-BOOT kernel=\${canopy_shim_kernel} chosen=\${chosen}"
    halt
  fi
}
configfile /boot/grub/grub.cfg
`;

function runTool(cmd: string, args: string[], cwd: string): void {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout: 20_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
}

function clean(output: string): string {
  return output.replace(/\r/g, '').replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '');
}

/** Runs grub-emu to its end (halt), killing it after `timeoutMs`. */
function runGrubEmu(cwd: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('grub-emu', ['-m', 'device.map', '-d', 'g'], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString('latin1'); });
    child.stderr.on('data', (d: Buffer) => { out += d.toString('latin1'); });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', () => {
      clearTimeout(timer);
      resolve(clean(out));
    });
  });
}

/** A GRUB machine in `dir`, booting canopy.cfg (its text is `snippet`). */
export class GrubEmuMachine implements Machine {
  readonly kind = 'grub' as const;
  readonly backend: BootloaderBackend;
  private readonly root: string;
  private readonly grubDir: string;

  constructor(private readonly dir: string, private readonly snippet: string) {
    this.root = join(dir, 'root');
    this.grubDir = join(this.root, 'boot', 'grub');
    this.backend = createGrubBackend(this.paths());
  }

  private paths(io?: GrubEnvFileIo): { primary: string; redundant: string; io?: GrubEnvFileIo } {
    return { primary: join(this.grubDir, 'grubenv'), redundant: join(this.grubDir, 'grubenv.redund'), io };
  }

  async setup(vector: ContractVector): Promise<void> {
    await mkdir(this.grubDir, { recursive: true });
    await mkdir(join(this.dir, 'g'), { recursive: true });
    await symlink(GRUB_EMU_MODULES, join(this.dir, 'g', 'x86_64-emu'));
    await writeFile(join(this.dir, 'g', 'grub.cfg'), STUB);
    await writeFile(join(this.dir, 'device.map'), '(hd0) ext.img\n');
    await writeFile(join(this.grubDir, 'grub.cfg'), this.snippet);
    await symlink('.', join(this.root, 'boot', 'boot'));
    const ids = new Set([...vector.entries, ...vector.steps.flatMap((s) => (s.do === 'stage' ? [s.deployment] : []))]);
    for (const id of ids) await installDeployment(this.root, id, new TextEncoder().encode(`kernel ${id}\n`));
    await writeGrubEnvFiles(this.paths(), vector.env.grub ?? {});
    await this.writeEntries(vector.entries);
  }

  tornBackend(): BootloaderBackend {
    let armed = true;
    const io: GrubEnvFileIo = {
      read: nodeGrubEnvFileIo.read,
      async replace(path, bytes) {
        if (!armed) return nodeGrubEnvFileIo.replace(path, bytes);
        armed = false;
        // the temporary file is half written when the power goes; it is never renamed
        await writeFile(`${path}.canopy-torn`, bytes.subarray(0, 300));
        throw new Error('power cut');
      },
    };
    return createGrubBackend(this.paths(io));
  }

  async writeEntries(ids: string[]): Promise<void> {
    await swapLoader(this.root, (bv) => ({ 'grub-entries.cfg': generateGrubEntries(ids.map((id) => entryFor(id, bv))) }));
  }

  async corruptEnv(): Promise<void> {
    const path = join(this.grubDir, 'grubenv');
    const bytes = await readFile(path);
    bytes.fill(0, 0, 512);
    await writeFile(path, bytes);
  }

  async boot(unloadable: string[]): Promise<BootRecord> {
    for (const id of unloadable) await rename(kernelPath(this.root, id), `${kernelPath(this.root, id)}.away`);
    try {
      runTool('mke2fs', ['-q', '-F', '-t', 'ext4', '-d', this.root, 'ext.img', '16M'], this.dir);
    } finally {
      for (const id of unloadable) await rename(`${kernelPath(this.root, id)}.away`, kernelPath(this.root, id));
    }
    const log = await runGrubEmu(this.dir, 20_000);
    // copy back what GRUB's save_env wrote
    for (const name of ['grubenv', 'grubenv.redund']) {
      runTool('debugfs', ['-R', `dump /boot/grub/${name} ${name}.out`, 'ext.img'], this.dir);
      await copyFile(join(this.dir, `${name}.out`), join(this.grubDir, name));
    }
    const m = /CANOPY-SHIM-BOOT kernel=(\S+)/.exec(log);
    return { deployment: m ? deploymentOfKernel(m[1]) : null, log };
  }
}

/** True when grub-emu and the image tools are installed. */
export function grubEmuMissing(): string | null {
  for (const [tool, pkg] of [['grub-emu', 'grub-emu'], ['mke2fs', 'e2fsprogs'], ['debugfs', 'e2fsprogs']]) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) return `${tool} (Debian package ${pkg})`;
  }
  return null;
}
