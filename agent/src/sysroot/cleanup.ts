/**
 * Cleaning a sysroot, as `ostree admin cleanup` (and the clean-up every
 * deploy does first and last): delete what no boot entry (and no staged
 * deployment) references, regenerate the `ostree/<B>/<S>/<i>` refs that keep
 * deployed commits from being pruned, and optionally prune the repository.
 *
 * {@link planCleanup} is pure over a {@link DiskListing}; {@link cleanup}
 * lists, plans and applies. Also removes what an interrupted operation left:
 * `boot/loader.tmp`, `ostree/boot.<N>.tmp`, half-written deployments (never
 * referenced by an entry), temporary kernel copies.
 *
 * Order, so a crash at any point leaves a bootable sysroot whose deployed
 * commits stay referenced: new refs first; then stale boot versions; then
 * deployments (origin first, as ostree, then the directory), boot
 * directories; then stale refs; then the prune.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { listRefs, writeRef } from '../repo/refs';
import { prune, type PruneResult } from '../repo/prune';
import type { Repo } from '../repo/repo';
import { dirOf, originOf } from './deployment';
import { flip, parseBootCsumDirName, parseDeployName, type BootVersion } from './layout';
import type { SysrootState } from './load';
import type { SysrootFs } from './sysroot-fs';

/** What is on disk, as cleanup sees it. */
export interface DiskListing {
  /** `ostree/deploy/<os>/deploy/*` entries: names of directories and of files. */
  deployEntries: Array<{ stateroot: string; name: string; dir: boolean }>;
  /** Directory names in `boot/ostree`. */
  bootDirs: string[];
  /** Temporary names (`.*.tmp`) inside `boot/ostree/<dir>/`, as `<dir>/<name>`. */
  bootTemps: string[];
  /** File names in `boot/ostree/initramfs-overlays`. */
  overlays: string[];
  /** Refs under `ostree/` in the repository's refs/heads. */
  deploymentRefs: Array<{ name: string; checksum: string }>;
}

export interface CleanupPlan {
  /** Sysroot-relative paths removed first (other boot versions, stale temporaries). */
  removeBootversions: string[];
  /** Deployments to delete: origin file, then directory (sysroot-relative). */
  removeDeployments: Array<{ origin: string; dir: string }>;
  /** Origin files whose deployment directory is gone. */
  removeOrphanOrigins: string[];
  /** `boot/ostree/<os>-<bootcsum>` directories and stale temporaries. */
  removeBoot: string[];
  /** Refs to (re)write: `ostree/<B>/<S>/<i>` -> commit. */
  setRefs: Array<{ name: string; checksum: string }>;
  /** Stale `ostree/...` refs to delete. */
  deleteRefs: string[];
}

/** Plans the cleanup of `state` given what is on disk. */
export function planCleanup(state: Pick<SysrootState, 'bootversion' | 'subbootversion' | 'deployments'>, disk: DiskListing): CleanupPlan {
  const b = state.bootversion;
  const s = state.subbootversion;
  const ob: BootVersion = flip(b);
  const removeBootversions = [
    `boot/loader.${ob}`, `ostree/boot.${ob}`, `ostree/boot.${ob}.0`, `ostree/boot.${ob}.1`, `ostree/boot.${b}.${flip(s)}`,
    'boot/loader.tmp', 'ostree/boot.0.tmp', 'ostree/boot.1.tmp',
  ];
  const active = new Set(state.deployments.map((d) => dirOf(d)));
  const activeBoot = new Set(state.deployments.map((d) => d.bootcsum));
  const activeOverlays = new Set(state.deployments.flatMap((d) => d.bootconfig.overlayInitrds.map((p) => p.slice(p.lastIndexOf('/') + 1))));
  const removeDeployments: CleanupPlan['removeDeployments'] = [];
  const dirs = new Set<string>();
  for (const e of disk.deployEntries) {
    if (!e.dir) continue;
    const parsed = parseDeployName(e.name);
    if (!parsed) continue; // not ours to judge (ostree would fail here)
    const d = { stateroot: e.stateroot, ...parsed };
    dirs.add(dirOf(d));
    if (!active.has(dirOf(d))) removeDeployments.push({ origin: originOf(d), dir: dirOf(d) });
  }
  const removeOrphanOrigins: string[] = [];
  for (const e of disk.deployEntries) {
    if (e.dir || !e.name.endsWith('.origin')) continue;
    const parsed = parseDeployName(e.name.slice(0, -'.origin'.length));
    if (!parsed) continue;
    const d = { stateroot: e.stateroot, ...parsed };
    if (!dirs.has(dirOf(d)) && !active.has(dirOf(d))) removeOrphanOrigins.push(originOf(d));
  }
  const removeBoot: string[] = [];
  for (const name of disk.bootDirs) {
    const p = parseBootCsumDirName(name);
    if (p && !activeBoot.has(p.bootcsum)) removeBoot.push(`boot/ostree/${name}`);
  }
  for (const t of disk.bootTemps) removeBoot.push(`boot/ostree/${t}`);
  for (const o of disk.overlays) if (!activeOverlays.has(o)) removeBoot.push(`boot/ostree/initramfs-overlays/${o}`);
  const setRefs = state.deployments.map((d, i) => ({ name: `ostree/${b}/${s}/${i}`, checksum: d.csum }));
  const keep = new Set(setRefs.map((r) => r.name));
  const deleteRefs = disk.deploymentRefs.filter((r) => /^ostree\/[01]\/[01]\/[0-9]+$/.test(r.name) && !keep.has(r.name)).map((r) => r.name);
  return { removeBootversions, removeDeployments, removeOrphanOrigins, removeBoot, setRefs, deleteRefs };
}

function names(dir: string): Array<{ name: string; dir: boolean }> {
  try {
    return readdirSync(dir, { withFileTypes: true }).map((e) => ({ name: e.name, dir: e.isDirectory() }));
  } catch {
    return [];
  }
}

/** Lists what cleanup looks at. */
export function listDisk(sysroot: string, repo: Repo): DiskListing {
  const deployEntries: DiskListing['deployEntries'] = [];
  for (const os of names(join(sysroot, 'ostree/deploy')).filter((e) => e.dir)) {
    for (const e of names(join(sysroot, 'ostree/deploy', os.name, 'deploy'))) deployEntries.push({ stateroot: os.name, name: e.name, dir: e.dir });
  }
  const bootDirs: string[] = [];
  const bootTemps: string[] = [];
  for (const e of names(join(sysroot, 'boot/ostree')).filter((x) => x.dir)) {
    if (!parseBootCsumDirName(e.name)) continue;
    bootDirs.push(e.name);
    for (const f of names(join(sysroot, 'boot/ostree', e.name))) if (/^\..+\.tmp$/.test(f.name)) bootTemps.push(`${e.name}/${f.name}`);
  }
  const overlays = names(join(sysroot, 'boot/ostree/initramfs-overlays')).filter((e) => !e.dir).map((e) => e.name);
  const deploymentRefs = listRefs(repo).filter((r) => r.name.startsWith('ostree/')).map((r) => ({ name: r.name, checksum: r.checksum }));
  return { deployEntries, bootDirs, bootTemps, overlays, deploymentRefs };
}

export interface CleanupResult {
  plan: CleanupPlan;
  prune?: PruneResult;
}

/**
 * Applies {@link planCleanup} for the freshly loaded `state`. With `prune`,
 * then prunes the repository to what refs reach (depth 0), as ostree does.
 * Throws ERR_IO and the repository's prune errors.
 */
export function applyCleanup(fs: SysrootFs, state: SysrootState, repo: Repo, opts: { prune?: boolean } = {}): CleanupResult {
  const plan = planCleanup(state, listDisk(state.path, repo));
  const abs = (p: string): string => join(state.path, p);
  const current = new Map(listRefs(repo).map((r) => [r.name, r.checksum]));
  for (const r of plan.setRefs) {
    if (current.get(r.name) !== r.checksum) {
      writeRef(repo, r.name, r.checksum);
      fs.step('ref', r.name);
    }
  }
  for (const p of plan.removeBootversions) fs.rmrf(abs(p));
  for (const d of plan.removeDeployments) {
    fs.rmrf(abs(d.origin));
    fs.rmrf(abs(d.dir), { deployment: true });
  }
  for (const p of plan.removeOrphanOrigins) fs.rmrf(abs(p));
  for (const p of plan.removeBoot) fs.rmrf(abs(p));
  for (const r of plan.deleteRefs) {
    writeRef(repo, r, undefined);
    fs.step('ref', r);
  }
  let pruned: PruneResult | undefined;
  if (opts.prune) {
    pruned = prune(repo, { refsOnly: true, depth: 0 });
    fs.step('prune', repo.path);
  }
  return { plan, prune: pruned };
}
