/**
 * The other admin operations: upgrade to what the origin ref now points to,
 * roll back, undeploy, pin and unpin, clean up.
 */
import { join } from 'node:path';
import { CanopyError } from '../core/errors';
import { parseRefspec } from '../core/names';
import { KeyFile } from '../repo/keyfile';
import { readRef } from '../repo/refs';
import type { Repo } from '../repo/repo';
import { applyCleanup, type CleanupResult } from './cleanup';
import { loadWith, openContext, type SysrootOptions } from './context';
import { deploy, type DeployOptions, type DeployResult } from './deploy';
import { ORIGIN_TRANSIENT_GROUP, isPinned, nameOf, originOf, originRefspec, type Deployment } from './deployment';
import { listAfterRollback, listAfterUndeploy } from './deployment-list';
import { mergeDeploymentFor } from './load';
import { removeStaged } from './staged';
import { bumpMtime, writeDeployments, type WriteResult } from './write-apply';

export interface UpgradeOptions extends Omit<DeployOptions, 'origin'> {
  /** Deploy even when the new commit is older than the current one. */
  allowDowngrade?: boolean;
}

export interface UpgradeResult {
  /** False when the origin already points at the merge deployment's commit. */
  changed: boolean;
  from: string;
  to: string;
  deploy?: DeployResult;
}

/**
 * Deploys the commit the merge deployment's origin refspec (or its
 * `override-commit`) points to in the repository now; pulling it there is
 * the puller's job. Keeps the origin.
 *
 * Throws ERR_STATEROOT_NOT_FOUND, ERR_DEPLOYMENT_NOT_FOUND (nothing deployed
 * yet), ERR_CONFIG_INVALID (no origin refspec), ERR_REF_NOT_FOUND,
 * ERR_DOWNGRADE (older commit without allowDowngrade), and deploy's errors.
 */
export async function upgrade(sysrootPath: string, opts: UpgradeOptions = {}): Promise<UpgradeResult> {
  const ctx = await openContext(sysrootPath, opts);
  const state = loadWith(ctx, opts);
  const os = opts.stateroot ?? state.booted?.stateroot;
  if (os === undefined) throw new CanopyError('ERR_STATEROOT_NOT_FOUND', 'not booted into a deployment and no stateroot (--os) given', {});
  const merge = mergeDeploymentFor(state, os);
  if (!merge) throw new CanopyError('ERR_DEPLOYMENT_NOT_FOUND', `stateroot ${os} has no deployment to upgrade`, { stateroot: os });
  const override = merge.origin?.get('origin', 'override-commit');
  const refspec = originRefspec(merge);
  let to: string | undefined = override;
  if (to === undefined) {
    if (refspec === undefined) throw new CanopyError('ERR_CONFIG_INVALID', `deployment ${nameOf(merge)} has no origin refspec to upgrade from`, { deployment: nameOf(merge) });
    const spec = parseRefspec(refspec);
    to = readRef(ctx.repo, spec.ref, spec.remote);
    if (to === undefined) throw new CanopyError('ERR_REF_NOT_FOUND', `origin ${refspec} is not in the sysroot repository (pull it first)`, { refspec });
  }
  if (to === merge.csum) {
    ctx.log?.('No update available.');
    return { changed: false, from: merge.csum, to };
  }
  if (!opts.allowDowngrade) {
    const oldTs = tryTimestamp(ctx.repo, merge.csum);
    const newTs = ctx.repo.loadCommit(to).timestamp;
    if (oldTs !== undefined && newTs < oldTs) {
      throw new CanopyError('ERR_DOWNGRADE', `commit ${to} (${new Date(newTs * 1000).toISOString()}) is older than the deployed ${merge.csum}; pass allowDowngrade to deploy it anyway`, { from: merge.csum, to });
    }
  }
  const origin = merge.origin ? KeyFile.parse(merge.origin.toString(), 'origin') : undefined;
  origin?.remove(ORIGIN_TRANSIENT_GROUP);
  const result = await deploy(sysrootPath, to, { ...opts, stateroot: os, origin: origin ?? refspec });
  return { changed: true, from: merge.csum, to, deploy: result };
}

function tryTimestamp(repo: Repo, csum: string): number | undefined {
  try {
    return repo.loadCommit(csum).timestamp;
  } catch {
    return undefined;
  }
}

export interface RollbackResult {
  /** The deployment that is now the default. */
  deployment: Deployment;
  write: WriteResult;
}

/**
 * Makes the previous deployment the default (see deployment-list.ts);
 * nothing is deleted. Throws ERR_STATEROOT_NOT_FOUND,
 * ERR_DEPLOYMENT_NOT_FOUND, and the boot-loader write's errors.
 */
export async function rollback(sysrootPath: string, opts: SysrootOptions & { stateroot?: string } = {}): Promise<RollbackResult> {
  const ctx = await openContext(sysrootPath, opts);
  const state = loadWith(ctx, opts);
  const os = opts.stateroot ?? state.booted?.stateroot ?? state.deployments.find((d) => !d.staged)?.stateroot;
  if (os === undefined) throw new CanopyError('ERR_DEPLOYMENT_NOT_FOUND', 'there are no deployments to roll back', {});
  const { list, target } = listAfterRollback(state.deployments, state.booted, os);
  if (state.staged) removeStaged(ctx, state);
  const write = writeDeployments(ctx, { ...state, deployments: state.deployments.filter((d) => !d.staged) }, list);
  applyCleanup(ctx.fs, loadWith(ctx, opts), ctx.repo, { prune: false });
  ctx.log?.(`Deployment ${nameOf(target)} is now the default`);
  return { deployment: target, write };
}

export interface UndeployResult {
  removed: Deployment;
  write?: WriteResult;
  cleanup: CleanupResult;
}

/** Removes deployment `index` and cleans up (with a prune unless `noPrune`). Throws ERR_DEPLOYMENT_NOT_FOUND, ERR_BOOTED_DEPLOYMENT. */
export async function undeploy(sysrootPath: string, index: number, opts: SysrootOptions & { noPrune?: boolean } = {}): Promise<UndeployResult> {
  const ctx = await openContext(sysrootPath, opts);
  const state = loadWith(ctx, opts);
  const { list, removed } = listAfterUndeploy(state.deployments, state.booted, index);
  let write: WriteResult | undefined;
  if (removed.staged) removeStaged(ctx, state);
  else write = writeDeployments(ctx, { ...state, deployments: state.deployments.filter((d) => !d.staged) }, list.filter((d) => !d.staged));
  const cleanup = applyCleanup(ctx.fs, loadWith(ctx, opts), ctx.repo, { prune: !opts.noPrune });
  ctx.log?.(`Deleted deployment ${nameOf(removed)}`);
  return { removed, write, cleanup };
}

/**
 * Pins or unpins deployment `index` (`[libostree-transient] pinned=true` in
 * its origin): pinned deployments survive later deploys. Returns whether
 * anything changed. Throws ERR_DEPLOYMENT_NOT_FOUND, ERR_INVALID_ARGUMENT
 * (a staged deployment).
 */
export async function setPinned(sysrootPath: string, index: number, pinned: boolean, opts: SysrootOptions = {}): Promise<{ changed: boolean; deployment: Deployment }> {
  const ctx = await openContext(sysrootPath, opts);
  const state = loadWith(ctx, opts);
  const d = state.deployments[index];
  if (!Number.isInteger(index) || !d) throw new CanopyError('ERR_DEPLOYMENT_NOT_FOUND', `there is no deployment ${index} (${state.deployments.length} deployments)`, { index });
  if (isPinned(d) === pinned) return { changed: false, deployment: d };
  if (d.staged) throw new CanopyError('ERR_INVALID_ARGUMENT', 'a staged deployment cannot be pinned', { index });
  const origin = d.origin ? KeyFile.parse(d.origin.toString(), 'origin') : new KeyFile();
  if (pinned) origin.set(ORIGIN_TRANSIENT_GROUP, 'pinned', 'true');
  else origin.remove(ORIGIN_TRANSIENT_GROUP, 'pinned');
  ctx.fs.writeFileAtomic(join(ctx.path, originOf(d)), origin.toString());
  bumpMtime(ctx);
  return { changed: true, deployment: { ...d, origin } };
}

/** `admin cleanup`: deletes what nothing references and prunes (unless `noPrune`). */
export async function cleanup(sysrootPath: string, opts: SysrootOptions & { noPrune?: boolean } = {}): Promise<CleanupResult> {
  const ctx = await openContext(sysrootPath, opts);
  return applyCleanup(ctx.fs, loadWith(ctx, opts), ctx.repo, { prune: !opts.noPrune });
}
