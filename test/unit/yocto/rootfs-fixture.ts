/**
 * Sample root filesystems for the meta-canopy script tests, shaped like an
 * OpenEmbedded image (usrmerge, systemd, kernel-image in /boot), and small
 * runners for the scripts and fake tools.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const SCRIPTS = join(ROOT, 'yocto-layer/scripts');
export const isRoot = process.getuid?.() === 0;

export interface Run { status: number; stdout: string; stderr: string }

/** Runs one of the layer's scripts with sh. */
export function runScript(name: string, args: string[], env: Record<string, string> = {}): Run {
  const r = spawnSync('sh', [join(SCRIPTS, name), ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
  if (r.error) throw r.error;
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Whether `cmd` runs (`cmd --version` exits 0). */
export function have(cmd: string, args = ['--version']): boolean {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return !r.error && r.status === 0;
}

/** A temporary folder removed by the returned function (clearing immutable flags first). */
export function tempDir(prefix: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return {
    dir,
    cleanup: () => {
      // ostree admin deploy marks deployment folders immutable.
      if (isRoot) spawnSync('chattr', ['-R', '-i', dir], { stdio: 'ignore' });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function write(path: string, text: string, mode = 0o644): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
  chmodSync(path, mode);
}

/**
 * Writes a sample root filesystem: /etc with an os-release link, /var content
 * (directories, files, symlinks), /boot with a kernel 6.1.0, its initrd, a device tree
 * and a symlink, /home and /root content, /tmp and /run leftovers, kernel modules.
 */
export function makeRootfs(dir: string): void {
  for (const d of ['dev', 'proc', 'sys', 'run', 'tmp', 'boot', 'usr/bin', 'usr/lib/modules/6.1.0/kernel', 'var/log', 'var/lib/dbus', 'var/volatile', 'root', 'media']) {
    mkdirSync(join(dir, d), { recursive: true });
  }
  write(join(dir, 'etc/hostname'), 'canopy-board\n');
  write(join(dir, 'etc/ssh/sshd_config'), 'PermitRootLogin no\n');
  write(join(dir, 'usr/lib/os-release'), 'ID=sampleos\nNAME="Sample OS"\nPRETTY_NAME="Sample OS 1.0"\nVERSION_ID=1.0\n');
  symlinkSync('../usr/lib/os-release', join(dir, 'etc/os-release'));
  write(join(dir, 'usr/bin/tool'), '#!/bin/sh\necho tool\n', 0o755);
  write(join(dir, 'usr/lib/modules/6.1.0/kernel/a.ko'), 'module');
  write(join(dir, 'var/lib/dbus/machine-id'), 'seed\n');
  write(join(dir, 'var/lib/app/state.db'), 'state', 0o600);
  chmodSync(join(dir, 'var/lib/app'), 0o750);
  symlinkSync('../run', join(dir, 'var/run'));
  symlinkSync('volatile/tmp', join(dir, 'var/tmp'));
  write(join(dir, 'boot/vmlinuz-6.1.0'), 'KERNEL');
  write(join(dir, 'boot/initrd.img-6.1.0'), 'INITRD');
  write(join(dir, 'boot/board.dtb'), 'DTB');
  write(join(dir, 'boot/overlays/extra.dtbo'), 'DTBO');
  symlinkSync('vmlinuz-6.1.0', join(dir, 'boot/vmlinuz'));
  write(join(dir, 'boot/u-boot.bin'), 'UBOOT');
  write(join(dir, 'home/user/.profile'), 'export A=1\n');
  write(join(dir, 'root/.bashrc'), 'alias l=ls\n');
  chmodSync(join(dir, 'root'), 0o700);
  write(join(dir, 'tmp/leftover'), 'x');
  write(join(dir, 'run/leftover.pid'), '1');
  chmodSync(join(dir, 'tmp'), 0o1777);
}

/**
 * Writes a fake `canopy` that appends each command line to `log` and answers `commit`
 * with `commitId` and `rev-parse` with `previousId` (or exit 3 when it is empty).
 */
export function fakeCanopy(dir: string, log: string, commitId: string, previousId: string): string {
  const path = join(dir, 'fake-canopy');
  write(path, [
    '#!/bin/sh',
    `echo "$*" >> '${log}'`,
    'case "$1" in',
    `  commit) echo ${commitId} ;;`,
    `  rev-parse) [ -n '${previousId}' ] || exit 3; echo ${previousId} ;;`,
    '  init) for a in "$@"; do case "$a" in --repo=*) mkdir -p "${a#--repo=}" && : > "${a#--repo=}/config" ;; esac; done ;;',
    'esac',
    '',
  ].join('\n'), 0o755);
  return path;
}

/** Lists a folder, sorted (missing: null). */
export function ls(dir: string): string[] | null {
  try {
    return readdirSync(dir).sort();
  } catch {
    return null;
  }
}
