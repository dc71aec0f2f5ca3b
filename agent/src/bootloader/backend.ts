/**
 * The agent's side of the boot contract, per boot loader: read the recorded boot state,
 * stage a trial, mark the running deployment good or bad, finish a rollback. Decisions
 * come from the pure model in ./contract; a backend only reads the environment, applies
 * the model and writes back the variables that changed (nothing when none did).
 *
 * Entries (uEnv.txt, grub-entries.cfg) are not written here: the sysroot code writes them
 * with the bootversion swap. The contract fixes the order around them: staging writes the
 * env first and the entries second; finishing a rollback writes the entries (the running
 * deployment alone) first and the env second.
 */
import { CanopyError } from '../core/errors';
import {
  contractVariables, describeBootState, finishRollback, markBad, markGood, stageUpdate,
  type BootEnv, type BootStateSummary, type LoaderKind,
} from './contract';
import { envEntries, type EnvVars } from './env-text';
import { readGrubEnvFiles, updateGrubEnvFiles, type GrubEnvFileIo, type GrubEnvPaths } from './grubenv-file';
import {
  loadFwEnvConfig, readUbootEnvFile, updateUbootEnvFile, type EnvBlockIo, type FwEnvConfig,
} from './uboot-env-file';
import type { RedundantScheme } from './uboot-env';

/** The boot-loader integrations. */
export type BootloaderName = LoaderKind | 'none';

/** The recorded boot state. */
export interface BootloaderState {
  name: BootloaderName;
  /** The contract's variables as stored (others in the env are left out). */
  env: BootEnv;
  summary: BootStateSummary;
}

/** The agent's operations on one boot loader. */
export interface BootloaderBackend {
  readonly name: BootloaderName;
  /** Reads the recorded state. */
  readState(): Promise<BootloaderState>;
  /**
   * Puts the deployment that the next entry write makes the default on trial. Call BEFORE
   * writing the entries. Throws ERR_BOOT_STATE while a fallback is recorded.
   */
  stageTrial(options?: { tries?: number }): Promise<BootloaderState>;
  /** Confirms the running default deployment. Throws ERR_BOOT_STATE during a fallback. */
  markGood(): Promise<BootloaderState>;
  /** Fails the trial so that the next boot falls back; reboot after it. ERR_BOOT_STATE without a trial. */
  markBad(): Promise<BootloaderState>;
  /** Clears the fallback markers. Call AFTER writing entries that list the running deployment alone. */
  finishRollback(): Promise<BootloaderState>;
}

type Change = Readonly<Record<string, string | null>>;

function pick(kind: LoaderKind, vars: ReadonlyMap<string, string>): BootEnv {
  const env: Record<string, string> = {};
  for (const name of contractVariables(kind)) {
    const v = vars.get(name);
    if (v !== undefined) env[name] = v;
  }
  return env;
}

function diff(before: BootEnv, after: BootEnv): Change {
  const changes: Record<string, string | null> = {};
  for (const name of new Set([...Object.keys(before), ...Object.keys(after)])) {
    if (before[name] !== after[name]) changes[name] = after[name] ?? null;
  }
  return changes;
}

/** A backend from a reader and a writer of the contract variables. */
function envBackend(kind: LoaderKind, read: () => Promise<BootEnv>, write: (changes: Change) => Promise<BootEnv>): BootloaderBackend {
  const state = (env: BootEnv): BootloaderState => ({ name: kind, env, summary: describeBootState(kind, env) });
  const apply = async (step: (env: BootEnv) => BootEnv): Promise<BootloaderState> => {
    const before = await read();
    const changes = diff(before, step(before));
    return state(Object.keys(changes).length === 0 ? before : await write(changes));
  };
  return {
    name: kind,
    readState: async () => state(await read()),
    stageTrial: (options = {}) => apply((env) => stageUpdate(kind, env, options)),
    markGood: () => apply((env) => markGood(kind, env)),
    markBad: () => apply((env) => markBad(kind, env)),
    finishRollback: () => apply((env) => finishRollback(kind, env)),
  };
}

/** Where and how the U-Boot env is stored. */
export interface UbootBackendOptions {
  /** fw_env.config: its path, or the parsed config. */
  fwEnvConfig: string | FwEnvConfig;
  /** Directory that relative paths in fw_env.config are resolved against. */
  baseDir?: string;
  io?: EnvBlockIo;
  bigEndian?: boolean;
  scheme?: RedundantScheme;
  /**
   * The env to start from when no copy is valid (like `fw_setenv -f`). For U-Boot's own
   * env this must be the board's complete default env, because a saved env replaces
   * U-Boot's built-in defaults; for a state file (`canopy_envfile`) `{}` is right.
   * Without it, writing to a blank env fails with ERR_ENV_CRC.
   */
  initialEnv?: EnvVars;
}

/**
 * The U-Boot backend: contract variables in the env that fw_env.config locates, written
 * by read-modify-write of the whole env (the inactive copy of a redundant env).
 *
 * Operations throw ERR_ENV_CRC when no copy is valid (reads; writes without `initialEnv`),
 * ERR_BOOT_STATE when the contract refuses the step, and the store's ERR_IO family.
 */
export function createUbootBackend(options: UbootBackendOptions): BootloaderBackend {
  let config: FwEnvConfig | undefined = typeof options.fwEnvConfig === 'string' ? undefined : options.fwEnvConfig;
  const getConfig = async (): Promise<FwEnvConfig> => {
    config ??= await loadFwEnvConfig(options.fwEnvConfig as string);
    return config;
  };
  const storeOptions = { io: options.io, baseDir: options.baseDir, bigEndian: options.bigEndian, scheme: options.scheme };
  const read = async (): Promise<BootEnv> => {
    try {
      return pick('uboot', (await readUbootEnvFile(await getConfig(), storeOptions)).vars);
    } catch (e) {
      if (e instanceof CanopyError && e.code === 'ERR_ENV_CRC' && options.initialEnv) {
        return pick('uboot', new Map(envEntries(options.initialEnv, false)));
      }
      throw e;
    }
  };
  const write = async (changes: Change): Promise<BootEnv> =>
    pick('uboot', (await updateUbootEnvFile(await getConfig(), changes, { ...storeOptions, initial: options.initialEnv })).vars);
  return envBackend('uboot', read, write);
}

/** Where the grubenv copies are. */
export interface GrubBackendOptions extends GrubEnvPaths {
  io?: GrubEnvFileIo;
}

/**
 * The GRUB backend: contract variables in the primary grubenv and its redundant copy,
 * each replaced atomically. Throws ERR_BOOT_STATE when the contract refuses the step, and
 * the store's ERR_ENV_* and ERR_IO family.
 */
export function createGrubBackend(options: GrubBackendOptions): BootloaderBackend {
  const read = async (): Promise<BootEnv> => pick('grub', (await readGrubEnvFiles(options, options.io)).vars);
  const write = async (changes: Change): Promise<BootEnv> => pick('grub', (await updateGrubEnvFiles(options, changes, options.io)).vars);
  return envBackend('grub', read, write);
}

/**
 * The backend for a system whose boot loader does not count tries: nothing is recorded,
 * so there is never a trial and never a fallback. `markBad` throws ERR_BOOT_STATE, since
 * only a redeploy can then roll back.
 */
export function createNoneBackend(): BootloaderBackend {
  const state: BootloaderState = { name: 'none', env: {}, summary: { trial: false, fallback: false, healthFailed: false } };
  return {
    name: 'none',
    readState: async () => state,
    stageTrial: async () => state,
    markGood: async () => state,
    markBad: async () => {
      throw new CanopyError('ERR_BOOT_STATE', 'mark-bad: this system has no boot-loader integration that counts tries; roll back by deploying the previous commit', { loader: 'none' });
    },
    finishRollback: async () => state,
  };
}

/** Options for {@link createBootloaderBackend}: the paths for the loader that is used. */
export interface BootloaderBackendOptions {
  uboot?: UbootBackendOptions;
  grub?: GrubBackendOptions;
}

/**
 * The backend for `name`.
 *
 * @throws ERR_CONFIG_INVALID when the options for that loader are missing.
 */
export function createBootloaderBackend(name: BootloaderName, options: BootloaderBackendOptions): BootloaderBackend {
  if (name === 'none') return createNoneBackend();
  const opts = options[name];
  if (!opts) throw new CanopyError('ERR_CONFIG_INVALID', `boot loader ${name} is used but its paths are not configured`, { loader: name });
  return name === 'uboot' ? createUbootBackend(opts as UbootBackendOptions) : createGrubBackend(opts as GrubBackendOptions);
}
