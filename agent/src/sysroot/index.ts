/**
 * Deployments on the device, in ostree's sysroot layout (2022.x): read a
 * sysroot ({@link loadSysroot}), deploy a commit with the /etc three-way
 * merge and an atomic boot-loader switch ({@link deploy}), stage it for
 * shutdown ({@link finalizeStaged}), upgrade, roll back, undeploy, pin,
 * clean up, report status. Every path is under a `sysroot` argument.
 *
 * Decisions are pure (write-plan.ts, deployment-list.ts, etc-merge.ts,
 * cleanup.ts's planCleanup); file-system changes go through one
 * {@link SysrootFs} whose hook tests use to interrupt an operation after any
 * step.
 *
 * Error codes thrown here: ERR_SYSROOT_INVALID, ERR_STATEROOT_EXISTS,
 * ERR_STATEROOT_NOT_FOUND, ERR_DEPLOYMENT_NOT_FOUND, ERR_BOOTED_DEPLOYMENT,
 * ERR_NOT_BOOTED, ERR_KERNEL_NOT_FOUND, ERR_ETC_MERGE_CONFLICT,
 * ERR_NO_SPACE, ERR_DOWNGRADE, ERR_BOOT_ENTRY_INVALID, ERR_BOOT_STATE,
 * ERR_CONFIG_INVALID, ERR_INVALID_ARGUMENT, ERR_UNSAFE_PATH, ERR_XATTR,
 * ERR_IO and the repository's (each function's TSDoc says which).
 *
 * @module
 */
export { loadSysroot, pendingAndRollback, mergeDeploymentFor, listStateroots, type BootedHint, type LoadOptions, type SysrootState } from './load';
export { openContext, type SysrootOptions } from './context';
export { deploy, allocateSerial, overrideKargs, type DeployOptions, type DeployResult } from './deploy';
export { finalizeStaged, type FinalizeResult } from './staged';
export { upgrade, rollback, undeploy, setPinned, cleanup, type UpgradeOptions, type UpgradeResult, type RollbackResult, type UndeployResult } from './admin-ops';
export { initFs, osInit } from './init';
export { sysrootStatus, formatStatus, type SysrootStatus, type DeploymentStatus } from './status';
export { isPinned, originRefspec, nameOf, type Deployment } from './deployment';
export { KernelArgs, applyKargEdits, type KargEdits } from './kernel-args';
export { BlsEntry, strverscmp } from './bls-entry';
export { findKernelLayout, type KernelLayout } from './kernel-layout';
export { diffEtc, planEtcMerge, type EtcDiff, type EtcPlan, type EtcOp, type EtcTree, type EtcNode } from './etc-merge';
export { mergeEtc, snapshotEtc } from './etc-merge-apply';
export { ensureSpace, freeSpace, mountPointOf, type FreeSpace } from './space';
export { SysrootFs, type FaultHook } from './sysroot-fs';
export { selectBootOutput, ubootOutput, grubOutput, noneOutput, type BootOutput } from './boot-output';
export { parseStagedRecord, serializeStagedRecord, type StagedRecord } from './staged-record';
export type { CleanupResult, CleanupPlan } from './cleanup';
export type { WriteResult } from './write-apply';
