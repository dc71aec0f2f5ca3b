/**
 * Writing a new deployment list to disk: gathers what the planner needs from
 * the deployments (kernel layout, os-release, commit version), plans
 * (write-plan.ts) and executes the plan with {@link SysrootFs}.
 *
 * Crash safety: everything a full swap writes (loader.<B'>, the boot.<B'>
 * bootlinks, new kernel directories) is unreferenced until the single
 * `rename(boot/loader.tmp, boot/loader)`, which comes after a syncfs of the
 * sysroot and of /boot. Kernel files are written to a temporary name and
 * renamed, so a kernel file that exists is complete. A sub-bootversion swap
 * commits with the rename of `ostree/boot.<B>.tmp` over `ostree/boot.<B>`.
 */
import { lstatSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CanopyError } from '../core/errors';
import { commitVersion } from '../objects/commit';
import type { Repo } from '../repo/repo';
import type { BootOutput } from './boot-output';
import { dirOf, nameOf, type Deployment } from './deployment';
import { findKernelLayout } from './kernel-layout';
import { bootlinkRoot, entriesDir, flip, type BootVersion } from './layout';
import { readSubbootversion, type SysrootState } from './load';
import { osReleaseTitle } from './os-release';
import { ensureSpace, type FreeSpace } from './space';
import type { SysrootFs } from './sysroot-fs';
import { readInTree } from './tree-read';
import { decideSwap, planBootswap, planSubboot, type BootswapPlan, type DeploymentFacts, type SubbootPlan } from './write-plan';

/** The collaborators of every sysroot operation. */
export interface SysrootContext {
  /** Absolute sysroot path. */
  path: string;
  fs: SysrootFs;
  repo: Repo;
  output: BootOutput;
  /** `sysroot.bls-append-except-default` of the repository config. */
  blsAppend?: ReadonlyArray<[string, string]>;
  /** Progress and notes for a human (ostree prints the same lines). */
  log?: (line: string) => void;
  /** Free-space probe (tests inject a full disk). */
  probe?: (path: string) => FreeSpace;
}

/** What {@link writeDeployments} did. */
export interface WriteResult {
  kind: 'noop' | 'subboot' | 'bootswap';
  bootversion: BootVersion;
  subbootversion: BootVersion;
  deployments: Deployment[];
}

/** The commit `version` of `csum` (cached per call), undefined when the commit is missing or has none. */
export function versionLookup(repo: Repo): (csum: string) => string | undefined {
  const cache = new Map<string, string | undefined>();
  return (csum) => {
    if (!cache.has(csum)) {
      let v: string | undefined;
      try {
        v = commitVersion(repo.loadCommit(csum));
      } catch {
        v = undefined;
      }
      cache.set(csum, v);
    }
    return cache.get(csum);
  };
}

/** Reads the planner's facts from a deployment directory. Throws ERR_KERNEL_NOT_FOUND, ERR_SYSROOT_INVALID (no PRETTY_NAME or ID). */
export function deploymentFacts(ctx: SysrootContext, d: Deployment, versionOf: (csum: string) => string | undefined): DeploymentFacts {
  const root = join(ctx.path, dirOf(d));
  const layout = findKernelLayout(root);
  const osRelease = readInTree(root, 'usr/lib/os-release', 64 * 1024) ?? readInTree(root, 'etc/os-release', 64 * 1024);
  const osName = osRelease === undefined ? undefined : osReleaseTitle(osRelease);
  if (osName === undefined) throw new CanopyError('ERR_SYSROOT_INVALID', `deployment ${nameOf(d)} has no PRETTY_NAME or ID in usr/lib/os-release or etc/os-release`, { deployment: nameOf(d) });
  return { layout, osName, version: versionOf(d.csum), systemUenv: readInTree(root, 'usr/lib/ostree-boot/uEnv.txt', 64 * 1024) };
}

function exists(p: string): boolean {
  return lstatSync(p, { throwIfNoEntry: false }) !== undefined;
}

function treeBytes(p: string): number {
  const st = lstatSync(p);
  if (!st.isDirectory()) return st.isFile() ? st.size : 0;
  return readdirSync(p).reduce((n, name) => n + treeBytes(join(p, name)), 0);
}

/** Bytes the plan writes into /boot (kernels only where they must be copied, plus entries and output). */
export function bootBytesNeeded(sysroot: string, plan: BootswapPlan): number {
  const bootDev = statSync(join(sysroot, 'boot')).dev;
  let n = 0;
  for (const k of plan.kernels) {
    for (const f of k.files) if (!exists(join(sysroot, k.dir, f.name)) && statSync(f.src).dev !== bootDev) n += statSync(f.src).size;
    if (k.dtbDir && !exists(join(sysroot, k.dir, k.dtbDir.name))) n += treeBytes(k.dtbDir.src);
  }
  for (const f of [...plan.entries, ...plan.output]) n += Buffer.byteLength(f.content) + 4096;
  return n;
}

function copyTree(fs: SysrootFs, src: string, dst: string): void {
  const st = lstatSync(src);
  fs.mkdir(dst, 0o700);
  fs.setOwnerMode(dst, st.uid, st.gid, st.mode);
  for (const name of readdirSync(src).sort()) {
    const s = join(src, name);
    if (lstatSync(s).isDirectory()) copyTree(fs, s, join(dst, name));
    else fs.copyEntry(s, join(dst, name));
  }
}

/** Installs kernel files: hardlink when possible, else copy to a temporary name and rename; existing files are kept. */
function installKernels(ctx: SysrootContext, plan: BootswapPlan): void {
  const { fs } = ctx;
  for (const k of plan.kernels) {
    const dir = join(ctx.path, k.dir);
    fs.mkdirp(dir, 0o775);
    for (const f of k.files) {
      const dst = join(dir, f.name);
      if (exists(dst)) continue;
      if (fs.tryLink(f.src, dst)) continue;
      const tmp = join(dir, `.${f.name}.tmp`);
      fs.rmrf(tmp);
      fs.copyEntry(f.src, tmp);
      fs.rename(tmp, dst);
    }
    if (k.dtbDir) {
      const dst = join(dir, k.dtbDir.name);
      if (exists(dst)) continue;
      const tmp = join(dir, `.${k.dtbDir.name}.tmp`);
      fs.rmrf(tmp);
      copyTree(fs, k.dtbDir.src, tmp);
      fs.rename(tmp, dst);
    }
  }
}

function writeBootlinks(ctx: SysrootContext, plan: SubbootPlan | BootswapPlan): void {
  const { fs } = ctx;
  const sub = join(ctx.path, plan.subbootDir);
  fs.rmrf(sub);
  fs.mkdirp(sub);
  for (const l of plan.bootlinks) {
    const p = join(ctx.path, l.path);
    fs.mkdirp(join(p, '..'));
    fs.symlink(l.target, p);
  }
}

function syncBoth(ctx: SysrootContext): void {
  ctx.fs.syncfs(ctx.path);
  const boot = join(ctx.path, 'boot');
  if (statSync(boot).dev !== statSync(ctx.path).dev) ctx.fs.syncfs(boot);
}

/** Executes a full swap. */
export function applyBootswap(ctx: SysrootContext, plan: BootswapPlan): void {
  const { fs } = ctx;
  ensureSpace(join(ctx.path, 'boot'), { bytes: bootBytesNeeded(ctx.path, plan), inodes: plan.entries.length + 16 }, 'writing the boot entries and kernels', ctx.probe);
  fs.rmrf(join(ctx.path, plan.loaderDir));
  fs.mkdirp(join(ctx.path, entriesDir(plan.bootversion)));
  installKernels(ctx, plan);
  for (const e of plan.entries) fs.writeFileAtomic(join(ctx.path, e.path), e.content);
  writeBootlinks(ctx, plan);
  fs.symlinkReplace(`boot.${plan.bootversion}.${plan.subbootversion}`, join(ctx.path, bootlinkRoot(plan.bootversion)));
  for (const o of plan.output) fs.writeFileAtomic(join(ctx.path, o.path), o.content);
  if (!exists(join(ctx.path, 'boot/boot'))) fs.symlink('.', join(ctx.path, 'boot/boot'));
  const tmp = join(ctx.path, 'boot/loader.tmp');
  fs.rmrf(tmp);
  fs.symlink(`loader.${plan.bootversion}`, tmp);
  syncBoth(ctx);
  fs.rename(tmp, join(ctx.path, 'boot/loader'));
  fs.fsyncDir(join(ctx.path, 'boot'));
}

/** Executes a sub-bootversion swap. */
export function applySubboot(ctx: SysrootContext, plan: SubbootPlan): void {
  writeBootlinks(ctx, plan);
  syncBoth(ctx);
  ctx.fs.symlinkReplace(`boot.${plan.bootversion}.${plan.subbootversion}`, join(ctx.path, bootlinkRoot(plan.bootversion)));
  ctx.fs.fsyncDir(join(ctx.path, 'ostree'));
}

/**
 * Makes `next` (without a staged deployment, default first) the sysroot's
 * deployment list. Every deployment directory must exist.
 *
 * Throws ERR_BOOTED_DEPLOYMENT when `next` drops the booted deployment,
 * ERR_SYSROOT_INVALID for a missing deployment directory or os-release
 * title, ERR_KERNEL_NOT_FOUND, ERR_BOOT_ENTRY_INVALID / ERR_BOOT_STATE from
 * the boot-loader output, ERR_NO_SPACE for /boot, ERR_IO.
 */
export function writeDeployments(ctx: SysrootContext, state: SysrootState, next: readonly Deployment[]): WriteResult {
  const current = state.deployments.filter((d) => !d.staged);
  for (const d of next) {
    if (d.staged) throw new CanopyError('ERR_INVALID_ARGUMENT', `deployment ${nameOf(d)} is staged; finalize it before writing it to the boot loader`, {});
    if (!statSync(join(ctx.path, dirOf(d)), { throwIfNoEntry: false })?.isDirectory()) {
      throw new CanopyError('ERR_SYSROOT_INVALID', `deployment directory ${dirOf(d)} is missing`, { path: dirOf(d) });
    }
  }
  if (state.booted && !next.some((d) => d.stateroot === state.booted!.stateroot && d.csum === state.booted!.csum && d.serial === state.booted!.serial)) {
    throw new CanopyError('ERR_BOOTED_DEPLOYMENT', `the new deployment list drops the booted deployment ${nameOf(state.booted)}`, { deployment: nameOf(state.booted) });
  }
  const versionOf = versionLookup(ctx.repo);
  const kind = decideSwap(current, next, versionOf);
  if (kind === 'noop') return { kind, bootversion: state.bootversion, subbootversion: state.subbootversion, deployments: [...current] };
  if (kind === 'subboot') {
    const plan = planSubboot(next, state.bootversion, state.subbootversion);
    applySubboot(ctx, plan);
    bumpMtime(ctx);
    ctx.log?.(`Transaction complete; bootconfig swap: no; bootversion: boot.${plan.bootversion}.${plan.subbootversion}, deployment count change: ${next.length - state.deployments.length}`);
    return { kind, bootversion: plan.bootversion, subbootversion: plan.subbootversion, deployments: plan.deployments };
  }
  const target = flip(state.bootversion);
  const factsCache = new Map<string, DeploymentFacts>();
  const plan = planBootswap({
    list: next,
    from: state.bootversion,
    targetSub: readSubbootversion(ctx.path, target),
    facts: (d) => {
      const key = `${d.stateroot}/${nameOf(d)}`;
      if (!factsCache.has(key)) factsCache.set(key, deploymentFacts(ctx, d, versionOf));
      return factsCache.get(key)!;
    },
    output: ctx.output,
    blsAppend: ctx.blsAppend,
  });
  for (const d of plan.deployments) {
    const facts = factsCache.get(`${d.stateroot}/${nameOf(d)}`)!;
    if (facts.layout.bootcsum !== d.bootcsum) {
      throw new CanopyError('ERR_SYSROOT_INVALID', `deployment ${nameOf(d)}: its kernel hashes to ${facts.layout.bootcsum}, not to the boot checksum ${d.bootcsum} it is booted with`, { deployment: nameOf(d) });
    }
  }
  applyBootswap(ctx, plan);
  bumpMtime(ctx);
  ctx.log?.(`Transaction complete; bootconfig swap: yes; bootversion: boot.${plan.bootversion}.${plan.subbootversion}, deployment count change: ${next.length - state.deployments.length}`);
  return { kind, bootversion: plan.bootversion, subbootversion: plan.subbootversion, deployments: plan.deployments };
}

/** Touches `ostree/deploy` so watchers notice a change (as ostree does). */
export function bumpMtime(ctx: SysrootContext): void {
  const p = join(ctx.path, 'ostree/deploy');
  if (exists(p)) ctx.fs.touch(p);
}
