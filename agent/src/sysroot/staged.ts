/**
 * Staged deployments: `deploy --stage` writes the checkout, its origin and
 * a staged record (staged-record.ts) now; {@link finalizeStaged}, run at
 * shutdown by `canopy-agent-finalize-staged.service`, does the /etc merge
 * and the boot-loader switch then, so configuration changed after staging
 * is kept.
 *
 * As ostree: the record is removed before the merge starts, so an
 * interrupted finalization leaves the old default in place and the
 * half-finished deployment for the next cleanup; a failure is written to
 * `boot/ostree/finalize-failure.stamp` for the next boot to report.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { CanopyError, ioError } from '../core/errors';
import { applyCleanup } from './cleanup';
import { loadWith, openContext, type SysrootOptions } from './context';
import { dirOf, nameOf, sameDeployment, type Deployment } from './deployment';
import { listAfterDeploy } from './deployment-list';
import { finalizeDeployment } from './finalize';
import { FINALIZE_FAILURE_STAMP, STAGED_LOCK, STAGED_RECORD } from './layout';
import type { SysrootState } from './load';
import { serializeStagedRecord, type StagedRef } from './staged-record';
import { writeDeployments, type SysrootContext, type WriteResult } from './write-apply';

function ref(d: Deployment): StagedRef {
  return { stateroot: d.stateroot, csum: d.csum, serial: d.serial, bootcsum: d.bootcsum };
}

/** Writes the staged record for `d`, replacing (and deleting) an earlier staged deployment. */
export function writeStagedRecord(ctx: SysrootContext, state: SysrootState, d: Deployment, merge: Deployment | undefined, kargs: string[] | undefined, locked: boolean): void {
  const p = join(state.runDir, STAGED_RECORD);
  try {
    mkdirSync(dirname(p), { recursive: true, mode: 0o755 });
  } catch (e) {
    throw ioError(e, 'mkdir', dirname(p));
  }
  if (locked) ctx.fs.writeFileAtomic(join(state.runDir, STAGED_LOCK), '', 0o640);
  ctx.fs.writeFileAtomic(p, serializeStagedRecord({ target: ref(d), merge: merge ? ref(merge) : undefined, kargs, locked: locked || undefined }));
  if (state.staged && !sameDeployment(state.staged, d)) ctx.fs.rmrf(join(ctx.path, dirOf(state.staged)), { deployment: true });
}

/** Drops the staged deployment: its record, lock and directory. */
export function removeStaged(ctx: SysrootContext, state: SysrootState): void {
  ctx.fs.unlinkIfExists(join(state.runDir, STAGED_RECORD));
  ctx.fs.unlinkIfExists(join(state.runDir, STAGED_LOCK));
  if (state.staged) {
    ctx.fs.rmrf(join(ctx.path, `${dirOf(state.staged)}.origin`));
    ctx.fs.rmrf(join(ctx.path, dirOf(state.staged)), { deployment: true });
  }
}

export interface FinalizeResult {
  /** False when nothing was staged or finalization is locked. */
  finalized: boolean;
  reason?: 'none-staged' | 'locked';
  deployment?: Deployment;
  write?: WriteResult;
}

/**
 * Finalizes the staged deployment (see module doc). Needs the booted hint
 * (the staged record is only read on a booted system).
 *
 * Throws ERR_SYSROOT_INVALID (the merge deployment is gone), and what
 * deploy's finalization and the boot-loader write throw; every failure is
 * also recorded in `boot/ostree/finalize-failure.stamp`.
 */
export async function finalizeStaged(sysrootPath: string, opts: SysrootOptions = {}): Promise<FinalizeResult> {
  const ctx = await openContext(sysrootPath, opts);
  try {
    return finalizeInner(ctx, opts);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    try {
      ctx.fs.mkdirp(join(ctx.path, 'boot/ostree'));
      ctx.fs.writeFileAtomic(join(ctx.path, FINALIZE_FAILURE_STAMP), msg);
    } catch {
      ctx.log?.(`could not record the failure in ${FINALIZE_FAILURE_STAMP}`);
    }
    throw e;
  }
}

function finalizeInner(ctx: SysrootContext, opts: SysrootOptions): FinalizeResult {
  const state = loadWith(ctx, opts);
  const staged = state.staged;
  if (!staged || !state.stagedRecord) {
    ctx.log?.('No deployment staged for finalization');
    return { finalized: false, reason: 'none-staged' };
  }
  if (state.stagedRecord.locked || existsSync(join(state.runDir, STAGED_LOCK))) {
    ctx.log?.(`Not finalizing; found ${STAGED_LOCK}`);
    return { finalized: false, reason: 'locked' };
  }
  let merge: Deployment | undefined;
  const m = state.stagedRecord.merge;
  if (m) {
    merge = state.deployments.find((d) => !d.staged && sameDeployment(d, m));
    if (!merge) throw new CanopyError('ERR_SYSROOT_INVALID', `the merge deployment ${m.csum}.${m.serial} of the staged deployment is gone`, { deployment: `${m.csum}.${m.serial}` });
  }
  ctx.log?.(`Finalizing staged deployment ${nameOf(staged)}`);
  ctx.fs.unlink(join(state.runDir, STAGED_RECORD));
  const d: Deployment = { ...staged, staged: false, bootconfig: staged.bootconfig.clone() };
  finalizeDeployment(ctx, d, merge, opts);
  const rest = state.deployments.filter((x) => !x.staged);
  const list = listAfterDeploy(rest, d, state.booted, merge, d.stateroot, {});
  const write = writeDeployments(ctx, { ...state, deployments: rest, staged: undefined }, list);
  const after = loadWith(ctx, { ...opts });
  applyCleanup(ctx.fs, after, ctx.repo, { prune: false });
  return { finalized: true, deployment: d, write };
}
