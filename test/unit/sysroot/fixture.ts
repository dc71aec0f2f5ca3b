/**
 * Canopy-only scratch sysroots for the sysroot unit tests (no ostree
 * needed): init-fs, os-init and the U-Boot stub, with commits made by
 * Canopy's own commitTree into the sysroot's bare repository (root needed,
 * as on the device).
 */
import { accessSync, constants, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { variant } from '../../../agent/src/gvariant/index';
import { commitTree } from '../../../agent/src/repo/commit-tree';
import { Repo } from '../../../agent/src/repo/repo';
import { initFs, osInit } from '../../../agent/src/sysroot/index';
import { addUbootStub, isRoot, removeScratch, writeOsTree, type OsTreeSpec } from '../../helpers/sysroot-fixture';

export { isRoot, removeScratch, writeOsTree };

/**
 * A temporary directory; pass it to {@link removeScratch} when done. With
 * `memory`, on /dev/shm when it is a writable tmpfs (many small file
 * operations are much faster there than on a busy disk), else in tmpdir.
 */
export function scratch(prefix = 'canopy-sysroot-', opts: { memory?: boolean } = {}): string {
  if (opts.memory) {
    try {
      accessSync('/dev/shm', constants.W_OK);
      return mkdtempSync(join('/dev/shm', prefix));
    } catch {
      // no tmpfs here
    }
  }
  return mkdtempSync(join(tmpdir(), prefix));
}

/** A sysroot made by Canopy with stateroot `testos` and the U-Boot stub. */
export function canopySysroot(parent: string, opts: { uboot?: boolean; os?: string } = {}): string {
  const s = join(parent, 'sysroot');
  mkdirSync(s, { recursive: true });
  initFs(s);
  osInit(s, opts.os ?? 'testos');
  if (opts.uboot ?? true) addUbootStub(s);
  return s;
}

let tick = 1_700_000_000;

/** Writes an OS tree under `parent` and commits it to `testos/main` (or `branch`); returns the checksum. */
export async function commitOs(sysroot: string, parent: string, spec: OsTreeSpec & { version?: string; branch?: string; name?: string } = {}): Promise<string> {
  const dir = writeOsTree(join(parent, spec.name ?? `tree-${tick}`), spec);
  const repo = Repo.open(join(sysroot, 'ostree/repo'));
  const r = await commitTree(repo, dir, {
    branch: spec.branch ?? 'testos/main',
    subject: 'test',
    timestamp: tick++,
    metadata: spec.version ? [['version', variant('s', spec.version)]] : [],
  });
  return r.checksum;
}
