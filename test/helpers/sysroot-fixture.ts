/**
 * Scratch sysroots for the sysroot tests: a bootable OS tree (dummy kernel,
 * initramfs and device tree under usr/lib/modules/<kver>, os-release,
 * usr/etc, usr/lib/ostree-boot/uEnv.txt), a sysroot made by the real
 * `ostree admin init-fs` / `os-init` with the U-Boot stub of the reference
 * experiment, commits made with `ostree commit --bootable`, and removal of
 * sysroots whose deployment roots carry the immutable attribute.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { removeDeviceDirs } from '../../agent/src/dev/sim-device';

export const present = (cmd: string, arg = '--version'): boolean => !spawnSync(cmd, [arg], { stdio: 'ignore' }).error;
export const isRoot = process.getuid?.() === 0;

/** Runs a command, asserting success; returns stdout. */
export function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', cwd: opts.cwd, env: opts.env ?? process.env, maxBuffer: 1 << 26 });
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')} failed: ${r.stdout}${r.stderr}${r.error ?? ''}`);
  return r.stdout;
}

export function ostree(...args: string[]): string {
  return run('ostree', args);
}

export interface OsTreeSpec {
  /** Kernel bytes (the bootcsum changes with them). */
  kernel?: string;
  initramfs?: string | null;
  devicetree?: string | null;
  kver?: string;
  /** usr/etc files: relative path -> content (string) or { link } for a symlink or { dir: mode }. */
  etc?: Record<string, string | { link: string } | { dir: number } | { file: string; mode: number }>;
  prettyName?: string;
  /** usr/lib/ostree-boot/uEnv.txt; null for none. */
  uenv?: string | null;
  /** Extra files relative to the tree root. */
  files?: Record<string, string>;
}

/** Writes a bootable OS tree into `dir` (created). */
export function writeOsTree(dir: string, spec: OsTreeSpec = {}): string {
  const kver = spec.kver ?? '6.1.0';
  const put = (rel: string, content: string, mode = 0o644): void => {
    const p = join(dir, rel);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, content);
    chmodSync(p, mode);
  };
  mkdirSync(dir, { recursive: true });
  put(`usr/lib/modules/${kver}/vmlinuz`, spec.kernel ?? 'kernel\n');
  if (spec.initramfs !== null) put(`usr/lib/modules/${kver}/initramfs.img`, spec.initramfs ?? 'initrd\n');
  if (spec.devicetree !== null) put(`usr/lib/modules/${kver}/devicetree`, spec.devicetree ?? 'dtb\n');
  put('usr/lib/os-release', `NAME=TestOS\nID=testos\nPRETTY_NAME="${spec.prettyName ?? 'TestOS 42'}"\nVERSION_ID=42\n`);
  if (spec.uenv !== null) put('usr/lib/ostree-boot/uEnv.txt', spec.uenv ?? 'bootcmd=run mmcboot\n');
  put('usr/bin/hello', 'hi\n', 0o755);
  const etc = spec.etc ?? { fileA: 'a\n', fileB: 'b\n', 'sub/fileC': 'c\n' };
  mkdirSync(join(dir, 'usr/etc'), { recursive: true });
  for (const [rel, v] of Object.entries(etc)) {
    const p = join(dir, 'usr/etc', rel);
    mkdirSync(dirname(p), { recursive: true });
    if (typeof v === 'string') put(`usr/etc/${rel}`, v);
    else if ('link' in v) symlinkSync(v.link, p);
    else if ('dir' in v) {
      mkdirSync(p, { recursive: true });
      chmodSync(p, v.dir);
    } else put(`usr/etc/${rel}`, v.file, v.mode);
  }
  for (const [rel, v] of Object.entries(spec.files ?? {})) put(rel, v);
  return dir;
}

/** `ostree admin init-fs` + `os-init` + the U-Boot stub (A.1): returns the sysroot path. */
export function makeOstreeSysroot(parent: string, os = 'testos', opts: { uboot?: boolean } = {}): string {
  const sysroot = join(parent, 'sysroot');
  mkdirSync(sysroot, { recursive: true });
  ostree('admin', 'init-fs', sysroot);
  ostree('admin', 'os-init', `--sysroot=${sysroot}`, os);
  if (opts.uboot ?? true) addUbootStub(sysroot);
  return sysroot;
}

/** `boot/loader.0/uEnv.txt`, `boot/loader -> loader.0`, `boot/uEnv.txt -> loader/uEnv.txt`. */
export function addUbootStub(sysroot: string): void {
  mkdirSync(join(sysroot, 'boot/loader.0'), { recursive: true });
  symlinkSync('loader.0', join(sysroot, 'boot/loader'));
  writeFileSync(join(sysroot, 'boot/loader/uEnv.txt'), '');
  symlinkSync('loader/uEnv.txt', join(sysroot, 'boot/uEnv.txt'));
}

/** `ostree commit --bootable` of `tree` into the sysroot's repository; returns the checksum. */
export function commitOs(sysroot: string, tree: string, opts: { branch?: string; version?: string; timestamp?: string } = {}): string {
  const args = ['--repo=' + join(sysroot, 'ostree/repo'), 'commit', '--bootable', '-b', opts.branch ?? 'testos/main', '-s', 'test', `--tree=dir=${tree}`];
  if (opts.version) args.push('--add-metadata-string', `version=${opts.version}`);
  if (opts.timestamp) args.push(`--timestamp=${opts.timestamp}`);
  return ostree(...args).trim();
}

/** Removes a scratch directory holding sysroots (clearing ostree's immutable attribute on deployment roots first). */
export function removeScratch(dir: string): void {
  removeDeviceDirs(dir);
}

/** The entries and uEnv.txt of the current loader, for byte comparisons. */
export function loaderFiles(sysroot: string): Map<string, string> {
  const out = new Map<string, string>();
  const loader = join(sysroot, 'boot/loader');
  for (const name of readdirSync(join(loader, 'entries')).sort()) out.set(`entries/${name}`, readFileSync(join(loader, 'entries', name), 'utf8'));
  if (existsSync(join(loader, 'uEnv.txt'))) out.set('uEnv.txt', readFileSync(join(loader, 'uEnv.txt'), 'utf8'));
  return out;
}
