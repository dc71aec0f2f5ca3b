/**
 * A simulated boot of a sysroot, for tests and demos of the whole update
 * cycle without hardware: what happens between `reboot` and the agent's
 * next start, with the boot contract's model standing in for U-Boot's
 * script or GRUB's snippet (bootloader/contract.ts, the same model the real
 * boot loaders are tested against).
 *
 * 1. Shutdown: a deployment staged with `deploy --stage` is finalized, as
 *    canopy-agent-finalize-staged.service does at shutdown; then the run
 *    directory is emptied (it is a tmpfs on a real device).
 * 2. Boot: `bootOnce` over the boot-loader env and the entries the loader
 *    lists (the sysroot's deployments, at most two): it spends a trial
 *    boot, falls back when the budget is spent, and writes the env when the
 *    boot loader would.
 * 3. The chosen entry's kernel arguments become the simulated
 *    `/proc/cmdline` (with its `ostree=`), and a fresh boot id is written:
 *    that is what the agent reads to know which deployment runs and that a
 *    reboot happened.
 *
 * The env lives where a real device keeps it: a U-Boot env described by a
 * `fw_env.config` (two copies, redundant), or a GRUB `grubenv` with its
 * `grubenv.redund`. {@link createSimulatedEnv} makes an empty one.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import {
  bootOnce, contractVariables, loadFwEnvConfig, readGrubEnvFiles, readUbootEnvFile, updateGrubEnvFiles, updateUbootEnvFile, writeGrubEnvFiles,
  writeUbootEnvFile, type BootEnv, type EntryIndex, type LoaderKind,
} from '../bootloader/index';
import { finalizeStaged, loadSysroot, nameOf } from '../sysroot/index';

export interface SimulateBootOptions {
  sysroot: string;
  /** The boot loader whose script is simulated. */
  loader: LoaderKind;
  /** U-Boot: the fw_env.config. */
  fwEnvConfig?: string;
  /** GRUB: the primary grubenv (`grubenv.redund` beside it). */
  grubenv?: string;
  /** Written: the simulated kernel command line. */
  cmdlineFile: string;
  /** Written: a new boot id. */
  bootIdFile: string;
  /** The run directory the agent uses (emptied, as at every boot). */
  runDir: string;
  /** Entries whose kernel fails to load in this boot (0 default, 1 previous). */
  unloadable?: readonly EntryIndex[];
  /** U-Boot cannot write its env in this boot. */
  saveFails?: boolean;
}

export interface SimulatedBoot {
  /** The entry that started, or null when none could. */
  entry: EntryIndex | null;
  /** Its commit and deployment name. */
  commit: string | null;
  deployment: string | null;
  /** The contract's variables after the boot. */
  env: BootEnv;
  /** A staged deployment was finalized at the simulated shutdown. */
  finalized: boolean;
  bootId: string;
}

/** Where a simulated env is, for the agent's `--fw-env-config` / `--grubenv`. */
export interface SimulatedEnv {
  loader: LoaderKind;
  fwEnvConfig?: string;
  grubenv?: string;
}

/** Creates an empty boot-loader env in `dir`: a redundant U-Boot env (2 × 8 KiB) with its fw_env.config, or grubenv + grubenv.redund. */
export async function createSimulatedEnv(loader: LoaderKind, dir: string): Promise<SimulatedEnv> {
  mkdirSync(dir, { recursive: true });
  if (loader === 'uboot') {
    const image = join(dir, 'uboot.env');
    writeFileSync(image, new Uint8Array(0x4000));
    const fwEnvConfig = join(dir, 'fw_env.config');
    writeFileSync(fwEnvConfig, `# simulated U-Boot env: two copies in one file\n${image} 0x0 0x2000\n${image} 0x2000 0x2000\n`);
    await writeUbootEnvFile(await loadFwEnvConfig(fwEnvConfig), { bootcmd: 'run canopy_boot', bootdelay: '0' });
    return { loader, fwEnvConfig };
  }
  const grubenv = join(dir, 'grubenv');
  await writeGrubEnvFiles({ primary: grubenv, redundant: join(dir, 'grubenv.redund') }, {});
  return { loader, grubenv };
}

function pick(kind: LoaderKind, vars: ReadonlyMap<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const n of contractVariables(kind)) {
    const v = vars.get(n);
    if (v !== undefined) env[n] = v;
  }
  return env;
}

async function readEnv(o: SimulateBootOptions): Promise<Record<string, string>> {
  if (o.loader === 'uboot') return pick('uboot', (await readUbootEnvFile(await loadFwEnvConfig(o.fwEnvConfig!))).vars);
  return pick('grub', (await readGrubEnvFiles({ primary: o.grubenv!, redundant: join(dirname(o.grubenv!), 'grubenv.redund') })).vars);
}

async function writeChanges(o: SimulateBootOptions, changes: Record<string, string | null>): Promise<void> {
  if (o.loader === 'uboot') await updateUbootEnvFile(await loadFwEnvConfig(o.fwEnvConfig!), changes);
  else await updateGrubEnvFiles({ primary: o.grubenv!, redundant: join(dirname(o.grubenv!), 'grubenv.redund') }, changes);
}

function readOr(path: string, dflt: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return dflt;
  }
}

/**
 * Shuts the simulated device down and boots it once (see the module doc).
 *
 * @throws ERR_SYSROOT_INVALID, the env stores' ERR_ENV_* and ERR_IO, and
 *   what finalizing a staged deployment throws.
 */
export async function simulateBoot(o: SimulateBootOptions): Promise<SimulatedBoot> {
  if (o.loader === 'uboot' && !o.fwEnvConfig) throw new Error('simulateBoot: a U-Boot device needs fwEnvConfig');
  if (o.loader === 'grub' && !o.grubenv) throw new Error('simulateBoot: a GRUB device needs grubenv');
  let finalized = false;
  if (existsSync(join(o.runDir, 'ostree/staged-deployment'))) {
    const r = await finalizeStaged(o.sysroot, { booted: { cmdline: readOr(o.cmdlineFile, '') }, runDir: o.runDir });
    finalized = r.finalized;
  }
  if (existsSync(o.runDir)) for (const n of readdirSync(o.runDir)) rmSync(join(o.runDir, n), { recursive: true, force: true });
  const entries = loadSysroot(o.sysroot, { runDir: o.runDir }).deployments.filter((d) => !d.staged).slice(0, 2);
  const before = await readEnv(o);
  const loadable = [0, 1].map((i) => !(o.unloadable ?? []).includes(i as EntryIndex));
  const r = bootOnce(o.loader, before, { entries: entries.length, loadable, saveFails: o.saveFails });
  if (r.saved) {
    const changes: Record<string, string | null> = {};
    for (const k of new Set([...Object.keys(before), ...Object.keys(r.env)])) if (before[k] !== r.env[k]) changes[k] = r.env[k] ?? null;
    await writeChanges(o, changes);
  }
  const d = r.entry === null ? undefined : entries[r.entry];
  const bootId = randomUUID();
  mkdirSync(dirname(o.cmdlineFile), { recursive: true });
  mkdirSync(dirname(o.bootIdFile), { recursive: true });
  writeFileSync(o.cmdlineFile, d ? `BOOT_IMAGE=simulated ${d.bootconfig.get('options') ?? ''}\n` : '');
  writeFileSync(o.bootIdFile, `${bootId}\n`);
  mkdirSync(o.runDir, { recursive: true });
  return { entry: r.entry, commit: d?.csum ?? null, deployment: d ? nameOf(d) : null, env: r.env, finalized, bootId };
}
