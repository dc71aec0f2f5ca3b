/**
 * Opening a sysroot for an operation: its repository, the boot-loader output
 * its repository config selects, the file-system wrapper with the fault
 * hook, and the options every operation shares.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CanopyError } from '../core/errors';
import { Repo } from '../repo/repo';
import { selectBootOutput, type BootOutput } from './boot-output';
import { REPO_DIR } from './layout';
import { loadSysroot, type BootedHint, type SysrootState } from './load';
import type { FreeSpace } from './space';
import { SysrootFs, type FaultHook } from './sysroot-fs';
import type { SysrootContext } from './write-apply';

/** Options every sysroot operation takes. */
export interface SysrootOptions {
  /** How to recognise the booted deployment (tests pass a kernel command line). */
  booted?: BootedHint;
  /** Run-time state directory for the staged record (default `/run`). */
  runDir?: string;
  /** Called after every file-system operation (fault injection in tests). */
  hook?: FaultHook;
  /** fsync/syncfs (default true). */
  fsync?: boolean;
  /** Seal finished deployments with the immutable attribute (default: when root). */
  immutable?: boolean;
  /** The boot-loader output; default from the repository's `sysroot.bootloader`. */
  output?: BootOutput;
  /** Lines for a human (what ostree prints). */
  log?: (line: string) => void;
  /** Free-space probe. */
  probe?: (path: string) => FreeSpace;
  /** Copy extended attributes in the /etc merge (default true). */
  xattrs?: boolean;
}

/** Parses `sysroot.bls-append-except-default` (`key1=value1;key2=value2`). Throws ERR_CONFIG_INVALID. */
export function parseBlsAppend(v: string | undefined): Array<[string, string]> {
  if (!v) return [];
  return v.split(';').filter((x) => x !== '').map((kv) => {
    const eq = kv.indexOf('=');
    if (eq <= 0) throw new CanopyError('ERR_CONFIG_INVALID', 'sysroot.bls-append-except-default must be of the form "key1=value1;key2=value2"', { value: v });
    return [kv.slice(0, eq), kv.slice(eq + 1)];
  });
}

/**
 * Opens the sysroot at `path`: its repository and collaborators. Throws
 * ERR_SYSROOT_INVALID when there is no `ostree/repo`, ERR_REPO_INVALID,
 * ERR_CONFIG_INVALID.
 */
export async function openContext(path: string, opts: SysrootOptions = {}): Promise<SysrootContext> {
  const abs = resolve(path);
  if (!existsSync(join(abs, REPO_DIR, 'config'))) {
    throw new CanopyError('ERR_SYSROOT_INVALID', `${abs} is not a sysroot (no ${REPO_DIR}); run canopy-agent admin init-fs first`, { path: abs });
  }
  const repo = Repo.open(join(abs, REPO_DIR));
  const output = opts.output ?? await selectBootOutput(abs, repo.config.get('sysroot', 'bootloader') ?? 'auto');
  return {
    path: abs,
    fs: new SysrootFs({ hook: opts.hook, fsync: opts.fsync, immutable: opts.immutable }),
    repo,
    output,
    blsAppend: parseBlsAppend(repo.config.get('sysroot', 'bls-append-except-default')),
    log: opts.log,
    probe: opts.probe,
  };
}

/** Loads the sysroot state with the options' booted hint and run directory. */
export function loadWith(ctx: SysrootContext, opts: SysrootOptions): SysrootState {
  return loadSysroot(ctx.path, { booted: opts.booted, runDir: opts.runDir });
}
