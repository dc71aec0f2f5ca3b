/**
 * A tiny bootable root filesystem for demos: a kernel, initramfs and
 * device tree where OSTree looks for them (`usr/lib/modules/<kver>/`),
 * os-release, a `usr/etc` for the /etc merge, and whatever files the
 * caller adds (the demo marks a broken release with one).
 */
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export interface DemoTreeSpec {
  version: string;
  /** Extra files: path relative to the root -> content. */
  files?: Record<string, string>;
  kver?: string;
}

/** Writes the tree into `dir` (created) and returns `dir`. */
export function writeDemoOsTree(dir: string, spec: DemoTreeSpec): string {
  const kver = spec.kver ?? '6.6.0-demo';
  const put = (rel: string, content: string, mode = 0o644): void => {
    const p = join(dir, rel);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, content);
    chmodSync(p, mode);
  };
  put(`usr/lib/modules/${kver}/vmlinuz`, `demo kernel ${kver}\n`);
  put(`usr/lib/modules/${kver}/initramfs.img`, 'demo initramfs\n');
  put(`usr/lib/modules/${kver}/devicetree`, 'demo device tree\n');
  put('usr/lib/os-release', `NAME="Canopy Demo OS"\nID=canopy-demo\nVERSION_ID=${spec.version}\nPRETTY_NAME="Canopy Demo OS ${spec.version}"\n`);
  put('usr/lib/ostree-boot/uEnv.txt', 'bootcmd=run mmcboot\n');
  put('usr/bin/demo-app', `#!/bin/sh\necho "demo app ${spec.version}"\n`, 0o755);
  put('usr/share/demo/data', `release ${spec.version}\n`.repeat(200));
  put('usr/etc/hostname', 'canopy-demo\n');
  put('usr/etc/motd', `Canopy Demo OS ${spec.version}\n`);
  mkdirSync(join(dir, 'var'), { recursive: true });
  for (const [rel, content] of Object.entries(spec.files ?? {})) put(rel, content);
  return dir;
}
