/**
 * `deploy`: a commit becomes a deployment, as `ostree admin deploy` 2022.7
 * does it:
 *
 * 1. clean up what an earlier interrupted operation left (no prune);
 * 2. check the commit out (hardlinks) into `ostree/deploy/<os>/deploy/<csum>.<serial>`;
 * 3. find its kernel (the boot checksum); make `etc` a copy of `usr/etc`;
 * 4. finalize: kernel arguments from the merge deployment unless given, the
 *    three-way `/etc` merge, the `.origin` file, the immutable attribute;
 * 5. write the new deployment list (new first) to the boot loader, with
 *    the atomic `boot/loader` swap;
 * 6. clean up (old deployments, boot versions, refs) and prune the repository.
 *
 * With `stage`, steps 4-6 wait for {@link finalizeStaged} at shutdown: the
 * checkout and origin are written now, with a staged record in the run
 * directory, so /etc changes made until shutdown are merged.
 */
import { lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { CanopyError } from '../core/errors';
import { ObjectType } from '../objects/index';
import { KeyFile } from '../repo/keyfile';
import { checkout } from '../repo/checkout';
import { resolveRev } from '../repo/refs';
import type { Repo } from '../repo/repo';
import { BlsEntry } from './bls-entry';
import { applyCleanup, type CleanupResult } from './cleanup';
import { loadWith, openContext, type SysrootOptions } from './context';
import { dirOf, nameOf, originForRefspec, type Deployment } from './deployment';
import { listAfterDeploy, type RetainFlags } from './deployment-list';
import type { EtcPlan } from './etc-merge';
import { finalizeDeployment, writeOrigin } from './finalize';
import { KernelArgs, applyKargEdits, hasKargEdits, type KargEdits } from './kernel-args';
import { findKernelLayout } from './kernel-layout';
import { assertStateroot, deployParentDir, parseDeployName, stateRootDir } from './layout';
import { mergeDeploymentFor, type SysrootState } from './load';
import { ensureSpace } from './space';
import { writeStagedRecord, removeStaged } from './staged';
import { bumpMtime, writeDeployments, type SysrootContext, type WriteResult } from './write-apply';

export interface DeployOptions extends SysrootOptions, RetainFlags {
  /** The stateroot (`--os`); default: the booted deployment's. */
  stateroot?: string;
  /** The origin to record: a refspec (default: the `rev` argument) or a whole key file. */
  origin?: string | KeyFile;
  /** Start from these kernel arguments instead of the merge deployment's (`--karg-none` plus these). */
  kargs?: readonly string[];
  /** `--karg`, `--karg-append`, `--karg-delete`, applied to the merge deployment's arguments. */
  kargEdits?: KargEdits;
  /** Do not merge /etc or kernel arguments from the booted or merge deployment (`--no-merge`). */
  noMerge?: boolean;
  /** Do not prune the repository afterwards (`--no-prune`). */
  noPrune?: boolean;
  /** Finish at shutdown (`--stage`); needs a booted system. */
  stage?: boolean;
  /** With `stage`: do not finalize at shutdown until unlocked (`--lock-finalization`). */
  lockFinalization?: boolean;
}

export interface DeployResult {
  deployment: Deployment;
  /** The /etc merge (absent with no merge deployment, and when staged). */
  etc?: EtcPlan['counts'];
  write?: WriteResult;
  cleanup?: CleanupResult;
  staged: boolean;
}

/** The serial for a new checkout of `csum`: one more than any existing directory of it. */
export function allocateSerial(sysroot: string, stateroot: string, csum: string): number {
  let serial = 0;
  let names: string[] = [];
  try {
    names = readdirSync(join(sysroot, deployParentDir(stateroot)));
  } catch {
    // none yet
  }
  for (const n of names) {
    const p = parseDeployName(n);
    if (p && p.csum === csum) serial = Math.max(serial, p.serial + 1);
  }
  return serial;
}

/** Bytes and inodes a hardlink checkout of `csum` needs: directories, symlinks and the copied `usr/etc`. */
export function estimateCheckout(repo: Repo, csum: string): { bytes: number; inodes: number } {
  let bytes = 0;
  let inodes = 0;
  const walk = (tree: string, path: string): void => {
    const t = repo.loadDirTree(tree);
    const copies = path === '/usr/etc' || path.startsWith('/usr/etc/');
    inodes += 1 + (copies ? t.files.length : 0);
    bytes += 4096;
    if (copies) {
      for (const f of t.files) {
        const st = lstatSync(repo.objectPath(f.checksum, ObjectType.FILE), { throwIfNoEntry: false });
        bytes += st?.isFile() ? Math.ceil(st.size / 4096) * 4096 : 0;
      }
    }
    for (const d of t.dirs) walk(d.tree, `${path === '/' ? '' : path}/${d.name}`);
  };
  walk(repo.loadCommit(csum).rootTree, '/');
  return { bytes, inodes };
}

/**
 * Checks out `csum` as a new deployment directory and prepares its `etc`;
 * returns the deployment (bootconfig empty, origin set). Throws the
 * checkout's errors, ERR_KERNEL_NOT_FOUND, ERR_SYSROOT_INVALID (both /etc
 * and /usr/etc), ERR_NO_SPACE.
 */
export async function checkoutDeployment(ctx: SysrootContext, stateroot: string, csum: string, origin: KeyFile): Promise<Deployment> {
  const serial = allocateSerial(ctx.path, stateroot, csum);
  const d: Deployment = { index: 0, stateroot, csum, serial, bootcsum: '', bootserial: -1, bootconfig: new BlsEntry(), origin, staged: false };
  const dir = join(ctx.path, dirOf(d));
  ensureSpace(join(ctx.path, deployParentDir(stateroot)), estimateCheckout(ctx.repo, csum), `checking out ${csum}`, ctx.probe);
  ctx.fs.mkdirp(join(ctx.path, deployParentDir(stateroot)), 0o775);
  ctx.fs.rmrf(dir, { deployment: true });
  await checkout(ctx.repo, csum, dir, { linkMode: 'auto', onProgress: () => ctx.fs.step('checkout-progress', dir) });
  ctx.fs.step('checkout', dir);
  d.bootcsum = findKernelLayout(dir).bootcsum;
  const etc = lstatSync(join(dir, 'etc'), { throwIfNoEntry: false });
  let usrEtc = lstatSync(join(dir, 'usr/etc'), { throwIfNoEntry: false });
  if (etc) {
    if (usrEtc) throw new CanopyError('ERR_SYSROOT_INVALID', `commit ${csum} contains both /etc and /usr/etc`, { commit: csum });
    ctx.fs.rename(join(dir, 'etc'), join(dir, 'usr/etc'));
    usrEtc = etc;
  }
  if (usrEtc) {
    await checkout(ctx.repo, csum, join(dir, 'etc'), { subpath: '/usr/etc', linkMode: 'copy' });
    ctx.fs.step('checkout', join(dir, 'etc'));
  }
  return d;
}

/** The kernel-argument override of a deploy (undefined: inherit at finalization), as ostree computes it. */
export function overrideKargs(merge: Deployment | undefined, opts: Pick<DeployOptions, 'kargs' | 'kargEdits'>): string[] | undefined {
  let base: KernelArgs | undefined;
  if (opts.kargs) base = KernelArgs.of(opts.kargs);
  else if (hasKargEdits(opts.kargEdits)) base = KernelArgs.parse(merge?.bootconfig.get('options'));
  if (!base) return undefined;
  return applyKargEdits(base, opts.kargEdits ?? {}).toArray();
}

function resolveStateroot(state: SysrootState, given: string | undefined): string {
  const os = given ?? state.booted?.stateroot;
  if (os === undefined) throw new CanopyError('ERR_STATEROOT_NOT_FOUND', 'not booted into a deployment and no stateroot (--os) given', {});
  assertStateroot(os);
  if (!lstatSync(join(state.path, stateRootDir(os)), { throwIfNoEntry: false })?.isDirectory()) {
    throw new CanopyError('ERR_STATEROOT_NOT_FOUND', `stateroot ${os} is not initialised in ${state.path} (run os-init)`, { stateroot: os });
  }
  return os;
}

/**
 * Deploys `rev` (a ref, `remote:ref` or checksum already in the sysroot's
 * repository). See the module doc.
 *
 * Throws ERR_STATEROOT_NOT_FOUND, ERR_REF_NOT_FOUND, ERR_OBJECT_NOT_FOUND,
 * ERR_NOT_BOOTED (stage on a system not booted into the sysroot),
 * ERR_INVALID_ARGUMENT (a karg delete that matches nothing), ERR_NO_SPACE,
 * ERR_KERNEL_NOT_FOUND, ERR_ETC_MERGE_CONFLICT, ERR_BOOTED_DEPLOYMENT,
 * ERR_SYSROOT_INVALID, ERR_BOOT_ENTRY_INVALID, ERR_BOOT_STATE, the
 * checkout's and prune's errors, ERR_IO.
 */
export async function deploy(sysrootPath: string, rev: string, opts: DeployOptions = {}): Promise<DeployResult> {
  const ctx = await openContext(sysrootPath, opts);
  let state = loadWith(ctx, opts);
  const stateroot = resolveStateroot(state, opts.stateroot);
  const csum = resolveRev(ctx.repo, rev, (c) => ctx.repo.loadCommit(c).parent);
  ctx.repo.loadCommit(csum);
  if (opts.stage && !state.booted) throw new CanopyError('ERR_NOT_BOOTED', 'a deployment can only be staged on a system booted into this sysroot', {});
  if (opts.stage && (opts.retainPending || opts.retainRollback || opts.notAsDefault)) {
    throw new CanopyError('ERR_INVALID_ARGUMENT', 'stage cannot be combined with retainPending, retainRollback or notAsDefault', {});
  }
  const merge = opts.noMerge ? undefined : mergeDeploymentFor(state, stateroot);
  applyCleanup(ctx.fs, state, ctx.repo, { prune: false });
  const kargs = overrideKargs(merge, opts);
  const origin = opts.origin instanceof KeyFile ? opts.origin : originForRefspec(opts.origin ?? rev);
  const d = await checkoutDeployment(ctx, stateroot, csum, origin);
  if (kargs) d.bootconfig.set('options', kargs.join(' '));

  if (opts.stage) {
    writeOrigin(ctx, d);
    writeStagedRecord(ctx, state, d, merge, kargs, !!opts.lockFinalization);
    bumpMtime(ctx);
    state = loadWith(ctx, opts);
    applyCleanup(ctx.fs, state, ctx.repo, { prune: false });
    ctx.log?.(`Staged deployment ${nameOf(d)}; it is finalized at shutdown`);
    return { deployment: { ...d, staged: true }, staged: true };
  }

  const etc = finalizeDeployment(ctx, d, merge, opts);
  const list = listAfterDeploy(state.deployments, d, state.booted, merge, stateroot, opts).filter((x) => !x.staged);
  if (state.staged) removeStaged(ctx, state);
  const write = writeDeployments(ctx, state, list);
  state = loadWith(ctx, opts);
  const cleanup = applyCleanup(ctx.fs, state, ctx.repo, { prune: !opts.noPrune });
  const mine = state.deployments.find((x) => x.stateroot === d.stateroot && x.csum === d.csum && x.serial === d.serial) ?? d;
  return { deployment: mine, etc, write, cleanup, staged: false };
}
