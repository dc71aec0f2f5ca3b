/**
 * Planning a new deployment list, as `ostree_sysroot_write_deployments`
 * 2022.7 decides it. Pure: every input is a value, the output is a plan
 * that write-apply.ts executes.
 *
 * - same list (same deployments in the same order, nothing to rewrite): noop;
 * - same count and every pair bootloader-equivalent (same boot checksum,
 *   kernel arguments apart from `ostree=`, commit version): only a new
 *   bootlink farm `ostree/boot.<B>.<S'>` and a swap of `ostree/boot.<B>`;
 * - otherwise a full swap to bootversion B' = 1 - B: kernels into
 *   `boot/ostree/<os>-<bootcsum>/`, BLS entries into `boot/loader.<B'>/entries`,
 *   bootlinks `ostree/boot.<B'>.<S'>`, the boot-loader output, then
 *   `boot/loader.tmp -> loader.<B'>` renamed over `boot/loader`.
 */
import { BlsEntry } from './bls-entry';
import type { BootOutput } from './boot-output';
import { sameDeployment, type Deployment } from './deployment';
import { KernelArgs } from './kernel-args';
import type { KernelLayout } from './kernel-layout';
import {
  bootCsumDirName, bootlinkRelPath, bootlinkTarget, entriesDir, entryFileName, flip, loaderDir, ostreeKargValue, subbootDir,
  type BootVersion,
} from './layout';

/** Gives each deployment its index among those sharing its boot checksum (returns copies with `index` and `bootserial` set). */
export function assignBootserials(list: readonly Deployment[]): Deployment[] {
  const seen = new Map<string, number>();
  return list.map((d, i) => {
    const n = seen.get(d.bootcsum) ?? 0;
    seen.set(d.bootcsum, n + 1);
    return { ...d, index: i, bootserial: n };
  });
}

/** The kernel arguments without `ostree=` (how ostree compares entries). */
export function nonOstreeKargs(d: Deployment): string {
  const k = KernelArgs.parse(d.bootconfig.get('options'));
  k.replace('ostree');
  return k.toString();
}

/** Whether two deployments boot the same way (the sub-bootversion shortcut applies). */
export function bootconfigsEqual(a: Deployment, b: Deployment, versionOf: (csum: string) => string | undefined): boolean {
  return a.bootcsum === b.bootcsum
    && (a.bootconfig.overlayInitrds.join('\n') === b.bootconfig.overlayInitrds.join('\n'))
    && nonOstreeKargs(a) === nonOstreeKargs(b)
    && versionOf(a.csum) === versionOf(b.csum);
}

export type SwapKind = 'noop' | 'subboot' | 'bootswap';

/** Decides how to write `next` over `current` (both without the staged deployment). */
export function decideSwap(current: readonly Deployment[], next: readonly Deployment[], versionOf: (csum: string) => string | undefined): SwapKind {
  if (current.length !== next.length) return 'bootswap';
  let noop = true;
  for (let i = 0; i < next.length; i++) {
    if (!bootconfigsEqual(current[i], next[i], versionOf)) return 'bootswap';
    if (!sameDeployment(current[i], next[i])) noop = false;
  }
  return noop ? 'noop' : 'subboot';
}

/** What the planner needs to know about each deployment's tree. */
export interface DeploymentFacts {
  layout: KernelLayout;
  /** os-release PRETTY_NAME or ID. */
  osName: string;
  /** The commit's `version`, when it has one. */
  version?: string;
  /** `usr/lib/ostree-boot/uEnv.txt` of the deployment, when present. */
  systemUenv?: string;
}

export interface Bootlink {
  /** Sysroot-relative path of the link. */
  path: string;
  target: string;
}

export interface KernelInstall {
  /** Sysroot-relative `boot/ostree/<os>-<bootcsum>`. */
  dir: string;
  files: Array<{ src: string; name: string }>;
  dtbDir?: { src: string; name: string };
}

export interface SubbootPlan {
  kind: 'subboot';
  bootversion: BootVersion;
  subbootversion: BootVersion;
  deployments: Deployment[];
  /** `ostree/boot.<B>.<S'>`, rebuilt from scratch. */
  subbootDir: string;
  bootlinks: Bootlink[];
}

export interface BootswapPlan {
  kind: 'bootswap';
  from: BootVersion;
  bootversion: BootVersion;
  subbootversion: BootVersion;
  deployments: Deployment[];
  /** `boot/loader.<B'>`, rebuilt from scratch. */
  loaderDir: string;
  kernels: KernelInstall[];
  /** Entry files (sysroot-relative path, content), default first. */
  entries: Array<{ path: string; content: string }>;
  subbootDir: string;
  bootlinks: Bootlink[];
  /** Boot-loader output files (sysroot-relative path, content). */
  output: Array<{ path: string; content: string }>;
}

export type WritePlan = { kind: 'noop'; deployments: Deployment[] } | SubbootPlan | BootswapPlan;

function bootlinksFor(list: readonly Deployment[], b: BootVersion, s: BootVersion): Bootlink[] {
  return list.map((d) => ({ path: `${subbootDir(b, s)}/${bootlinkRelPath(d.stateroot, d.bootcsum, d.bootserial)}`, target: bootlinkTarget(d.stateroot, d.csum, d.serial) }));
}

/** The sub-bootversion plan: new bootlinks for bootversion `b`, switched by renaming `ostree/boot.<b>`. */
export function planSubboot(list: readonly Deployment[], b: BootVersion, currentSub: BootVersion): SubbootPlan {
  const deployments = assignBootserials(list);
  const s = flip(currentSub);
  return { kind: 'subboot', bootversion: b, subbootversion: s, deployments, subbootDir: subbootDir(b, s), bootlinks: bootlinksFor(deployments, b, s) };
}

export interface BootswapInput {
  list: readonly Deployment[];
  /** The current bootversion B. */
  from: BootVersion;
  /** The subbootversion `ostree/boot.<B'>` points to now (0 when absent). */
  targetSub: BootVersion;
  facts: (d: Deployment) => DeploymentFacts;
  output: BootOutput;
  /** `sysroot.bls-append-except-default` key/values for non-default entries. */
  blsAppend?: ReadonlyArray<[string, string]>;
}

/** The entry of deployment `d` (at its index, with its bootserial) for bootversion `b`. */
export function entryFor(d: Deployment, n: number, b: BootVersion, facts: DeploymentFacts, showOs: boolean, blsAppend: ReadonlyArray<[string, string]> = []): BlsEntry {
  const e = d.bootconfig.clone();
  const dir = `/ostree/${bootCsumDirName(d.stateroot, d.bootcsum)}`;
  let title = facts.osName;
  if (facts.version && !title.includes(facts.version)) title += ` ${facts.version}`;
  title += ` (ostree${showOs ? `:${d.stateroot}` : ''}:${d.index})`;
  e.set('title', title);
  e.set('version', String(n - d.index));
  e.set('linux', `${dir}/${facts.layout.kernel.name}`);
  const kargs = KernelArgs.parse(e.get('options'));
  if (facts.layout.initramfs) e.set('initrd', `${dir}/${facts.layout.initramfs.name}`);
  else kargs.replace(`init=/ostree/boot.${b}/${d.stateroot}/${d.bootcsum}/${d.bootserial}/usr/lib/ostree/ostree-prepare-root`);
  if (facts.layout.devicetree) e.set('devicetree', `${dir}/${facts.layout.devicetree.name}`);
  else if (facts.layout.dtbDir) e.set('fdtdir', `${dir}/${facts.layout.dtbDir.name}`);
  kargs.replace(`ostree=${ostreeKargValue(b, d.stateroot, d.bootcsum, d.bootserial)}`);
  e.set('options', kargs.toString());
  if (d.index !== 0) for (const [k, v] of blsAppend) e.set(k, v);
  return e;
}

/** The full-swap plan. Throws ERR_BOOT_ENTRY_INVALID from the boot-loader output for an unusable entry. */
export function planBootswap(input: BootswapInput): BootswapPlan {
  const b = flip(input.from);
  const s = flip(input.targetSub);
  const deployments = assignBootserials(input.list);
  const showOs = deployments.some((d) => d.stateroot !== deployments[0].stateroot);
  const n = deployments.length;
  const kernels = new Map<string, KernelInstall>();
  const entries: BootswapPlan['entries'] = [];
  const blsEntries: BlsEntry[] = [];
  for (const d of deployments) {
    const facts = input.facts(d);
    const dir = `boot/ostree/${bootCsumDirName(d.stateroot, d.bootcsum)}`;
    if (!kernels.has(dir)) {
      const l = facts.layout;
      const files = [l.kernel, l.initramfs, l.devicetree, l.hmac].filter((f) => f !== undefined).map((f) => ({ src: f!.src, name: f!.name }));
      kernels.set(dir, { dir, files, ...(l.dtbDir ? { dtbDir: { ...l.dtbDir } } : {}) });
    }
    const e = entryFor(d, n, b, facts, showOs, input.blsAppend);
    d.bootconfig = e;
    blsEntries.push(e);
    entries.push({ path: `${entriesDir(b)}/${entryFileName(n - d.index, d.stateroot)}`, content: e.serialize() });
  }
  const systemUenv = deployments.length ? input.facts(deployments[0]).systemUenv : undefined;
  const output = deployments.length
    ? input.output.render({ entries: blsEntries, systemUenv }).map((f) => ({ path: `${loaderDir(b)}/${f.name}`, content: f.content }))
    : [];
  return {
    kind: 'bootswap', from: input.from, bootversion: b, subbootversion: s, deployments, loaderDir: loaderDir(b),
    kernels: [...kernels.values()], entries, subbootDir: subbootDir(b, s), bootlinks: bootlinksFor(deployments, b, s), output,
  };
}
