/**
 * Names and paths of the OSTree sysroot layout (ostree 2022.x), all relative
 * to the sysroot root:
 *
 * | path | what |
 * | --- | --- |
 * | `ostree/repo` | the system repository (bare) |
 * | `ostree/deploy/<os>/deploy/<csum>.<serial>` | a deployment (hardlink checkout) |
 * | `ostree/deploy/<os>/deploy/<csum>.<serial>.origin` | its origin key file |
 * | `ostree/deploy/<os>/var` | the stateroot's shared /var |
 * | `ostree/boot.<B> -> boot.<B>.<S>` | the bootlink farm in use for bootversion B |
 * | `ostree/boot.<B>.<S>/<os>/<bootcsum>/<bootserial> -> ../../../deploy/<os>/deploy/<csum>.<serial>` | one bootlink |
 * | `boot/loader -> loader.<B>` | the boot-loader configuration in use |
 * | `boot/loader.<B>/entries/ostree-<version>-<os>.conf` | BLS entries (2022.x file names) |
 * | `boot/ostree/<os>-<bootcsum>/` | kernel, initramfs, device tree of one boot checksum |
 *
 * Every function here is pure.
 */
import { isChecksum } from '../core/bytes';
import { CanopyError } from '../core/errors';
import { assertSafeName } from '../core/names';

export type BootVersion = 0 | 1;

/** The other bootversion (or subbootversion). */
export function flip(v: BootVersion): BootVersion {
  return v === 0 ? 1 : 0;
}

const STATEROOT = /^[A-Za-z0-9_][A-Za-z0-9_.+-]{0,127}$/;

/**
 * Checks a stateroot (os) name given by a user: it becomes a directory name
 * and part of the `ostree=` kernel argument, so only letters, digits and
 * `_ . + -` are accepted. Throws ERR_INVALID_ARGUMENT.
 */
export function assertStateroot(name: string): string {
  if (typeof name !== 'string' || !STATEROOT.test(name)) {
    throw new CanopyError('ERR_INVALID_ARGUMENT', `invalid stateroot (os) name ${JSON.stringify(String(name).slice(0, 200))}: use letters, digits and _ . + -`, { stateroot: String(name).slice(0, 200) });
  }
  return name;
}

/** `<csum>.<serial>`, the name of a deployment directory. */
export function deployName(csum: string, serial: number): string {
  return `${csum}.${serial}`;
}

const DEPLOY_NAME = /^([0-9a-f]+)\.([0-9]+)$/;

/** Parses `<csum>.<serial>`; undefined when the name does not have that form (or the checksum is not 64 hex digits). */
export function parseDeployName(name: string): { csum: string; serial: number } | undefined {
  const m = DEPLOY_NAME.exec(name);
  if (!m || !isChecksum(m[1]) || m[2].length > 9) return undefined;
  return { csum: m[1], serial: Number(m[2]) };
}

export const REPO_DIR = 'ostree/repo';

export function stateRootDir(os: string): string {
  return `ostree/deploy/${os}`;
}

export function deployParentDir(os: string): string {
  return `ostree/deploy/${os}/deploy`;
}

export function deploymentDir(os: string, csum: string, serial: number): string {
  return `${deployParentDir(os)}/${deployName(csum, serial)}`;
}

export function originPath(os: string, csum: string, serial: number): string {
  return `${deploymentDir(os, csum, serial)}.origin`;
}

/** `boot/ostree/<os>-<bootcsum>` (sysroot-relative); in BLS entries it is `/ostree/<os>-<bootcsum>`. */
export function bootCsumDirName(os: string, bootcsum: string): string {
  return `${os}-${bootcsum}`;
}

/** Parses `<os>-<bootcsum>` as the cleanup does (the last `-` splits). */
export function parseBootCsumDirName(name: string): { os: string; bootcsum: string } | undefined {
  const dash = name.lastIndexOf('-');
  if (dash <= 0) return undefined;
  const bootcsum = name.slice(dash + 1);
  return isChecksum(bootcsum) ? { os: name.slice(0, dash), bootcsum } : undefined;
}

export function loaderDir(bootversion: BootVersion): string {
  return `boot/loader.${bootversion}`;
}

export function entriesDir(bootversion: BootVersion): string {
  return `${loaderDir(bootversion)}/entries`;
}

/** The 2022.x BLS file name: `ostree-<version>-<os>.conf`. */
export function entryFileName(version: number, os: string): string {
  return `ostree-${version}-${os}.conf`;
}

export function bootlinkRoot(bootversion: BootVersion): string {
  return `ostree/boot.${bootversion}`;
}

export function subbootDir(bootversion: BootVersion, subbootversion: BootVersion): string {
  return `ostree/boot.${bootversion}.${subbootversion}`;
}

/** The bootlink's path inside its subboot directory: `<os>/<bootcsum>/<bootserial>`. */
export function bootlinkRelPath(os: string, bootcsum: string, bootserial: number): string {
  return `${os}/${bootcsum}/${bootserial}`;
}

/** Where a bootlink points: `../../../deploy/<os>/deploy/<csum>.<serial>`. */
export function bootlinkTarget(os: string, csum: string, serial: number): string {
  return `../../../deploy/${os}/deploy/${deployName(csum, serial)}`;
}

/** The `ostree=` kernel argument's value: `/ostree/boot.<B>/<os>/<bootcsum>/<bootserial>`. */
export function ostreeKargValue(bootversion: BootVersion, os: string, bootcsum: string, bootserial: number): string {
  return `/ostree/boot.${bootversion}/${os}/${bootcsum}/${bootserial}`;
}

/** A parsed `ostree=` value. */
export interface OstreeKarg {
  bootversion: BootVersion;
  stateroot: string;
  bootcsum: string;
  bootserial: number;
}

const OSTREE_KARG = /^\/ostree\/boot\.([01])\/([^/]+)\/([^/]+)\/([0-9]+)$/;

/**
 * Parses the value of an `ostree=` kernel argument as ostree does
 * (`^/ostree/boot.([01])/([^/]+)/([^/]+)/([0-9]+)$`); the stateroot must also
 * be a safe path component and the boot checksum 64 hex digits. Throws
 * ERR_SYSROOT_INVALID naming `where`.
 */
export function parseOstreeKarg(value: string, where: string): OstreeKarg {
  const m = OSTREE_KARG.exec(value);
  if (!m || m[4].length > 9) {
    throw new CanopyError('ERR_SYSROOT_INVALID', `${where}: invalid ostree= argument ${JSON.stringify(value.slice(0, 300))}, expected /ostree/boot.BOOTVERSION/OSNAME/BOOTCSUM/TREESERIAL`, { where });
  }
  try {
    assertSafeName(m[2], 'stateroot');
  } catch (e) {
    throw new CanopyError('ERR_SYSROOT_INVALID', `${where}: ${(e as Error).message}`, { where }, { cause: e });
  }
  if (!isChecksum(m[3])) throw new CanopyError('ERR_SYSROOT_INVALID', `${where}: boot checksum ${JSON.stringify(m[3].slice(0, 100))} in ostree= is not 64 hex digits`, { where });
  return { bootversion: Number(m[1]) as BootVersion, stateroot: m[2], bootcsum: m[3], bootserial: Number(m[4]) };
}

/** The file U-Boot loads through `boot/uEnv.txt -> loader/uEnv.txt`. */
export const UENV_LINK = 'boot/uEnv.txt';

/** Where `finalize-staged` records a failure, for the next boot to report (as ostree). */
export const FINALIZE_FAILURE_STAMP = 'boot/ostree/finalize-failure.stamp';

/** The staged-deployment record, relative to the run directory (ostree: `/run/ostree/staged-deployment`). */
export const STAGED_RECORD = 'ostree/staged-deployment';

/** A lock that keeps finalize-staged from finalizing (ostree: `/run/ostree/staged-deployment-locked`). */
export const STAGED_LOCK = 'ostree/staged-deployment-locked';
