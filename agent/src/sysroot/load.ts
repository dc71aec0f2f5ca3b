/**
 * Reading a sysroot, as `ostree_sysroot_load` does: the bootversion from the
 * `boot/loader` symlink, the subbootversion from `ostree/boot.<B>`, the BLS
 * entries `boot/loader.<B>/entries/ostree-*.conf` ordered by `version`
 * (highest first), each resolved through its `ostree=` argument and the
 * bootlinks to `ostree/deploy/<os>/deploy/<csum>.<serial>`, with its
 * `.origin`. The booted deployment is found from the root directory's
 * device and inode when given (what ostree does), else from a kernel command
 * line's `ostree=` (e.g. /proc/cmdline, injected by the caller). A staged
 * deployment (booted systems only) comes first.
 *
 * Everything read from disk is bounded and checked: a malformed layout is
 * ERR_SYSROOT_INVALID naming the file.
 */
import { lstatSync, readdirSync, readFileSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { CanopyError, ioError } from '../core/errors';
import { KeyFile } from '../repo/keyfile';
import { BlsEntry, strverscmp } from './bls-entry';
import { dirOf, originOf, sameDeployment, type Deployment } from './deployment';
import { KernelArgs } from './kernel-args';
import {
  STAGED_RECORD, bootlinkRoot, entriesDir, parseDeployName, parseOstreeKarg, type BootVersion,
} from './layout';
import { parseStagedRecord, type StagedRecord } from './staged-record';

/** How to recognise the booted deployment. */
export interface BootedHint {
  /** Device and inode of the running system's `/` (ostree's method; exact). */
  root?: { dev: number; ino: number };
  /** A kernel command line with `ostree=` (/proc/cmdline). Resolved through the current bootlinks. */
  cmdline?: string;
}

export interface LoadOptions {
  booted?: BootedHint;
  /** Where the staged record lives (`<runDir>/ostree/staged-deployment`); default `/run`. */
  runDir?: string;
}

export interface SysrootState {
  /** Absolute path of the sysroot. */
  path: string;
  bootversion: BootVersion;
  subbootversion: BootVersion;
  /** Default first; a staged deployment is at index 0. */
  deployments: Deployment[];
  booted?: Deployment;
  staged?: Deployment;
  stagedRecord?: StagedRecord;
  runDir: string;
}

/** Most entries read from one loader directory. */
export const MAX_ENTRIES = 256;

function invalid(where: string, why: string, cause?: unknown): CanopyError {
  return new CanopyError('ERR_SYSROOT_INVALID', `${where}: ${why}`, { where }, cause ? { cause } : undefined);
}

function readVersionLink(abs: string, rel: string, parse: (target: string) => BootVersion | undefined): BootVersion | undefined {
  const st = lstatSync(abs, { throwIfNoEntry: false });
  if (!st) return undefined;
  if (!st.isSymbolicLink()) throw invalid(rel, 'is not a symbolic link');
  const target = readlinkSync(abs);
  const v = parse(target);
  if (v === undefined) throw invalid(rel, `invalid target ${JSON.stringify(target.slice(0, 200))}`);
  return v;
}

/** The bootversion: `boot/loader -> loader.<B>`; 0 when absent. */
export function readBootversion(sysroot: string): BootVersion {
  return readVersionLink(join(sysroot, 'boot/loader'), 'boot/loader', (t) => (t === 'loader.0' ? 0 : t === 'loader.1' ? 1 : undefined)) ?? 0;
}

/** The subbootversion of bootversion `b`: `ostree/boot.<b> -> boot.<b>.<S>`; 0 when absent. */
export function readSubbootversion(sysroot: string, b: BootVersion): BootVersion {
  const rel = bootlinkRoot(b);
  // ostree only looks at the suffix.
  return readVersionLink(join(sysroot, rel), rel, (t) => (t.endsWith('.0') ? 0 : t.endsWith('.1') ? 1 : undefined)) ?? 0;
}

/** The parsed BLS entries of `loader.<b>`, highest version first. */
export function readEntries(sysroot: string, b: BootVersion): Array<{ file: string; entry: BlsEntry }> {
  const rel = entriesDir(b);
  const dir = join(sysroot, rel);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw ioError(e, 'read directory', dir);
  }
  const out: Array<{ file: string; entry: BlsEntry }> = [];
  for (const name of names) {
    if (!name.startsWith('ostree-') || !name.endsWith('.conf')) continue;
    const p = join(dir, name);
    if (!statSync(p, { throwIfNoEntry: false })?.isFile()) continue;
    if (out.length >= MAX_ENTRIES) throw invalid(rel, `more than ${MAX_ENTRIES} boot entries`);
    out.push({ file: name, entry: BlsEntry.parse(readBounded(p, `${rel}/${name}`), `${rel}/${name}`) });
  }
  out.sort((a, b) => compareEntries(a.entry, b.entry));
  return out;
}

function compareEntries(a: BlsEntry, b: BlsEntry): number {
  const va = a.get('version');
  const vb = b.get('version');
  if (va !== undefined && vb !== undefined) return -strverscmp(va, vb);
  return va !== undefined ? -1 : 1;
}

function readBounded(p: string, where: string, max = 64 * 1024): string {
  let data: Buffer;
  try {
    data = readFileSync(p);
  } catch (e) {
    throw ioError(e, 'read', p);
  }
  if (data.length > max) throw invalid(where, `larger than ${max} bytes`);
  return data.toString('utf8');
}

/** The first `ostree=` argument's value (as ostree looks it up in an entry). */
export function ostreeArgOf(options: string | undefined): string | undefined {
  for (const a of (options ?? '').split(' ')) if (a.startsWith('ostree=')) return a.slice('ostree='.length);
  return undefined;
}

function readOrigin(sysroot: string, rel: string): KeyFile | undefined {
  const p = join(sysroot, rel);
  if (!lstatSync(p, { throwIfNoEntry: false })) return undefined;
  return KeyFile.parse(readBounded(p, rel), rel);
}

function deploymentFromEntry(sysroot: string, file: string, entry: BlsEntry, b: BootVersion): Deployment {
  const where = `${entriesDir(b)}/${file}`;
  const arg = ostreeArgOf(entry.get('options'));
  if (arg === undefined) throw invalid(where, 'no ostree= kernel argument');
  const k = parseOstreeKarg(arg, where);
  const linkRel = arg.slice(1);
  let target: string;
  try {
    target = readlinkSync(join(sysroot, linkRel));
  } catch (e) {
    throw invalid(where, `bootlink ${linkRel} cannot be read (${(e as NodeJS.ErrnoException).code ?? e})`, e);
  }
  const parsed = parseDeployName(basename(target));
  if (!parsed) throw invalid(where, `bootlink ${linkRel} points to ${JSON.stringify(target.slice(0, 200))}, not a deployment`);
  const d: Deployment = {
    index: -1, stateroot: k.stateroot, csum: parsed.csum, serial: parsed.serial, bootcsum: k.bootcsum,
    bootserial: k.bootserial, bootconfig: entry, staged: false,
  };
  if (!statSync(join(sysroot, linkRel), { throwIfNoEntry: false })?.isDirectory() || !statSync(join(sysroot, dirOf(d)), { throwIfNoEntry: false })?.isDirectory()) {
    throw invalid(where, `deployment ${dirOf(d)} (through ${linkRel}) is missing`);
  }
  d.origin = readOrigin(sysroot, originOf(d));
  return d;
}

function findBooted(sysroot: string, deployments: Deployment[], hint: BootedHint | undefined): Deployment | undefined {
  if (!hint) return undefined;
  if (hint.root) {
    const { dev, ino } = hint.root;
    return deployments.find((d) => {
      const st = statSync(join(sysroot, dirOf(d)), { throwIfNoEntry: false });
      return st !== undefined && st.dev === dev && st.ino === ino;
    });
  }
  if (hint.cmdline !== undefined) {
    const v = KernelArgs.parse(hint.cmdline.replace(/\n$/, '')).lastValue('ostree');
    if (!v || !v.startsWith('/')) return undefined;
    let real: string;
    try {
      real = realpathSync(join(sysroot, v));
    } catch {
      return undefined;
    }
    return deployments.find((d) => {
      try {
        return realpathSync(join(sysroot, dirOf(d))) === real;
      } catch {
        return false;
      }
    });
  }
  return undefined;
}

function loadStaged(sysroot: string, runDir: string): { record: StagedRecord; deployment: Deployment } | undefined {
  const p = join(runDir, STAGED_RECORD);
  let bytes: Buffer;
  try {
    bytes = readFileSync(p);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw ioError(e, 'read', p);
  }
  const record = parseStagedRecord(bytes);
  const t = record.target;
  const bootconfig = new BlsEntry();
  if (record.kargs) bootconfig.set('options', record.kargs.join(' '));
  const d: Deployment = { index: 0, stateroot: t.stateroot, csum: t.csum, serial: t.serial, bootcsum: t.bootcsum, bootserial: -1, bootconfig, staged: true };
  if (!statSync(join(sysroot, dirOf(d)), { throwIfNoEntry: false })?.isDirectory()) return undefined;
  d.origin = readOrigin(sysroot, originOf(d));
  return { record, deployment: d };
}

/**
 * Loads the sysroot at `path`.
 *
 * Throws ERR_SYSROOT_INVALID (bad loader/bootlink symlinks, entries without
 * a valid `ostree=`, bootlinks to missing deployments, a malformed staged
 * record), ERR_CONFIG_INVALID (a malformed `.origin`), ERR_IO.
 */
export function loadSysroot(path: string, opts: LoadOptions = {}): SysrootState {
  const sysroot = resolve(path);
  if (!statSync(sysroot, { throwIfNoEntry: false })?.isDirectory()) {
    throw new CanopyError('ERR_SYSROOT_INVALID', `sysroot ${sysroot} is not a directory`, { path: sysroot });
  }
  const bootversion = readBootversion(sysroot);
  const subbootversion = readSubbootversion(sysroot, bootversion);
  const deployments = readEntries(sysroot, bootversion).map(({ file, entry }) => deploymentFromEntry(sysroot, file, entry, bootversion));
  const booted = findBooted(sysroot, deployments, opts.booted);
  const runDir = resolve(opts.runDir ?? '/run');
  const state: SysrootState = { path: sysroot, bootversion, subbootversion, deployments, booted, runDir };
  if (booted) {
    const staged = loadStaged(sysroot, runDir);
    if (staged && !deployments.some((d) => sameDeployment(d, staged.deployment))) {
      deployments.unshift(staged.deployment);
      state.staged = staged.deployment;
      state.stagedRecord = staged.record;
    }
  }
  deployments.forEach((d, i) => { d.index = i; });
  return state;
}

/** Deployments of `stateroot` that come before (pending) and after (rollback) the booted one, as ostree defines them. */
export function pendingAndRollback(state: SysrootState, stateroot?: string): { pending?: Deployment; rollback?: Deployment } {
  const os = stateroot ?? state.booted?.stateroot;
  if (os === undefined) return {};
  let foundBooted = false;
  let pending: Deployment | undefined;
  let rollback: Deployment | undefined;
  for (const d of state.deployments) {
    if (d.stateroot !== os) continue;
    if (sameDeployment(d, state.booted)) {
      foundBooted = true;
      continue;
    }
    if (!foundBooted && !pending) pending = d;
    else if (foundBooted && !rollback) rollback = d;
  }
  return { pending, rollback };
}

/** The configuration merge source: the booted deployment when it is of `stateroot`, else the first of `stateroot`. */
export function mergeDeploymentFor(state: SysrootState, stateroot: string): Deployment | undefined {
  if (state.booted && state.booted.stateroot === stateroot) return state.booted;
  return pendingAndRollback(state, stateroot).pending;
}

/** The stateroots that have a directory under `ostree/deploy`. */
export function listStateroots(sysroot: string): string[] {
  try {
    return readdirSync(join(sysroot, 'ostree/deploy'), { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name).sort();
  } catch {
    return [];
  }
}
