/**
 * A deployment as the sysroot knows it: which commit, checked out under which
 * serial, booting which kernel (boot checksum) through which bootlink serial,
 * with its boot entry and its origin. Pure helpers only.
 */
import { KeyFile } from '../repo/keyfile';
import { BlsEntry } from './bls-entry';
import { deployName, deploymentDir, originPath } from './layout';

export interface Deployment {
  /** Position in the deployment list: 0 is the default. */
  index: number;
  /** The stateroot (`--os`). */
  stateroot: string;
  /** The commit checksum. */
  csum: string;
  /** Distinguishes several checkouts of one commit. */
  serial: number;
  /** sha256 of kernel ‖ initramfs ‖ device tree: names `boot/ostree/<os>-<bootcsum>/`. */
  bootcsum: string;
  /** Index among deployments sharing a boot checksum (the bootlink name); -1 until assigned. */
  bootserial: number;
  /** Its boot entry; for a new or staged deployment only `options` may be set. */
  bootconfig: BlsEntry;
  /** The parsed `.origin` file, when there is one. */
  origin?: KeyFile;
  /** A staged deployment (finalized at shutdown) has no boot entry yet. */
  staged: boolean;
}

/** `<csum>.<serial>`. */
export function nameOf(d: Pick<Deployment, 'csum' | 'serial'>): string {
  return deployName(d.csum, d.serial);
}

/** Sysroot-relative directory of the deployment. */
export function dirOf(d: Pick<Deployment, 'stateroot' | 'csum' | 'serial'>): string {
  return deploymentDir(d.stateroot, d.csum, d.serial);
}

/** Sysroot-relative path of the deployment's origin file. */
export function originOf(d: Pick<Deployment, 'stateroot' | 'csum' | 'serial'>): string {
  return originPath(d.stateroot, d.csum, d.serial);
}

/** Same deployment: stateroot, commit and serial (as `ostree_deployment_equal`). */
export function sameDeployment(a: Pick<Deployment, 'stateroot' | 'csum' | 'serial'> | undefined, b: Pick<Deployment, 'stateroot' | 'csum' | 'serial'> | undefined): boolean {
  return !!a && !!b && a.stateroot === b.stateroot && a.csum === b.csum && a.serial === b.serial;
}

/** The origin group ostree uses for transient state (pinning). */
export const ORIGIN_TRANSIENT_GROUP = 'libostree-transient';

/** `[libostree-transient] pinned=true`. */
export function isPinned(d: Pick<Deployment, 'origin'>): boolean {
  const v = d.origin?.get(ORIGIN_TRANSIENT_GROUP, 'pinned');
  return v === 'true' || v === '1';
}

/** `[origin] refspec`, when set. */
export function originRefspec(d: Pick<Deployment, 'origin'>): string | undefined {
  return d.origin?.get('origin', 'refspec');
}

/** A new origin that follows `refspec` (what `ostree admin deploy REFSPEC` writes). */
export function originForRefspec(refspec: string): KeyFile {
  const kf = new KeyFile();
  kf.set('origin', 'refspec', refspec);
  return kf;
}

/** A shallow copy with a new index. */
export function withIndex(d: Deployment, index: number): Deployment {
  return { ...d, index };
}
