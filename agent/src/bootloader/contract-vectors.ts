/**
 * Test vectors of the boot contract (bootloader/contract.json): a starting list of
 * deployments and environment, a sequence of boots, agent actions and faults, and what
 * must be booted each time and stored at the end. {@link simulateVector} runs a vector on
 * the pure model, including the environment's storage: U-Boot keeps two redundant copies
 * (a write replaces the older one), GRUB a primary grubenv and a redundant one that the
 * agent both rewrites and GRUB's `save_env` updates variable by variable.
 *
 * The integration tests run the same vectors on real U-Boot and GRUB.
 */
import { CanopyError } from '../core/errors';
import {
  bootOnce, detectFallback, finishRollback, markBad, markGood, stageUpdate, GRUB_VAR,
  type BootEnv, type EntryIndex, type FallbackVerdict, type LoaderKind,
} from './contract';

/**
 * Where a power cut interrupts an agent action: during that write, which is lost with
 * every later write of the step (stage writes env then entries; finish-rollback writes
 * entries then env).
 */
export type PowerCut = 'env' | 'entries';

/** One step of a vector. */
export type VectorStep =
  | { do: 'boot'; expect: string | null; unloadable?: string[]; saveFails?: boolean; env?: Partial<Record<LoaderKind, BootEnv>> }
  | { do: 'stage'; deployment: string; tries?: number; powerCut?: PowerCut; expectError?: string }
  | { do: 'markGood'; powerCut?: 'env'; expectError?: string }
  | { do: 'markBad'; powerCut?: 'env'; expectError?: string }
  | { do: 'finishRollback'; powerCut?: PowerCut }
  | { do: 'detect'; expect: FallbackVerdict }
  | { do: 'corruptEnv' };

/** A test vector. */
export interface ContractVector {
  name: string;
  description?: string;
  /** Loaders the vector applies to. Default: both. */
  loaders?: LoaderKind[];
  /** Deployment ids, default first. */
  entries: string[];
  /** Starting environment per loader (contract variables only). */
  env: Partial<Record<LoaderKind, BootEnv>>;
  steps: VectorStep[];
  final: { entries: string[] } & Partial<Record<LoaderKind, BootEnv>>;
}

/** The result of one step of a simulation. */
export interface StepOutcome {
  step: VectorStep;
  /** For boots: the deployment that started. */
  booted?: string | null;
  /** For detect: the verdict. */
  verdict?: FallbackVerdict;
  /** For actions that were expected to fail: the error code. */
  error?: string;
  /** The environment the agent would read after the step. */
  env: BootEnv;
  entries: string[];
}

/** The result of a simulation. */
export interface Simulation {
  steps: StepOutcome[];
  final: { entries: string[]; env: BootEnv };
}

function bad(where: string, message: string): CanopyError {
  return new CanopyError('ERR_CONFIG_INVALID', `contract vector ${where}: ${message}`, { where });
}

function isEnv(v: unknown): v is BootEnv {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every((x) => typeof x === 'string');
}

function isIdList(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((x) => typeof x === 'string' && x.length > 0);
}

const STEP_KEYS: Record<VectorStep['do'], readonly string[]> = {
  boot: ['expect', 'unloadable', 'saveFails', 'env'],
  stage: ['deployment', 'tries', 'powerCut', 'expectError'],
  markGood: ['powerCut', 'expectError'],
  markBad: ['powerCut', 'expectError'],
  finishRollback: ['powerCut'],
  detect: ['expect'],
  corruptEnv: [],
};

function checkStep(raw: unknown, where: string): VectorStep {
  if (typeof raw !== 'object' || raw === null) throw bad(where, 'a step must be an object');
  const step = raw as Record<string, unknown>;
  const kind = step.do as VectorStep['do'];
  if (typeof kind !== 'string' || !(kind in STEP_KEYS)) throw bad(where, `unknown step ${JSON.stringify(step.do)}`);
  for (const key of Object.keys(step)) {
    if (key !== 'do' && !STEP_KEYS[kind].includes(key)) throw bad(where, `"${kind}" has no field "${key}"`);
  }
  if (kind === 'boot' && !(step.expect === null || typeof step.expect === 'string')) throw bad(where, 'boot needs "expect": id or null');
  if (kind === 'boot' && step.unloadable !== undefined && !isIdList(step.unloadable)) throw bad(where, '"unloadable" must list ids');
  if (kind === 'boot' && step.env !== undefined && !(typeof step.env === 'object' && Object.values(step.env as object).every(isEnv))) {
    throw bad(where, '"env" must map loaders to string maps');
  }
  if (kind === 'stage' && typeof step.deployment !== 'string') throw bad(where, 'stage needs "deployment"');
  if (kind === 'detect' && (typeof step.expect !== 'object' || step.expect === null)) throw bad(where, 'detect needs "expect"');
  if (step.powerCut !== undefined && step.powerCut !== 'env' && step.powerCut !== 'entries') throw bad(where, '"powerCut" is "env" or "entries"');
  return step as unknown as VectorStep;
}

/**
 * Checks the shape of the parsed contract.json `vectors` array.
 *
 * @throws ERR_CONFIG_INVALID naming the vector and step that is malformed.
 */
export function parseContractVectors(raw: unknown): ContractVector[] {
  if (!Array.isArray(raw)) throw bad('list', 'vectors must be an array');
  return raw.map((v: unknown, i) => {
    if (typeof v !== 'object' || v === null) throw bad(`#${i}`, 'must be an object');
    const vec = v as Record<string, unknown>;
    const where = typeof vec.name === 'string' ? JSON.stringify(vec.name) : `#${i}`;
    if (typeof vec.name !== 'string') throw bad(where, 'needs a "name"');
    if (!isIdList(vec.entries) || vec.entries.length === 0) throw bad(where, '"entries" must list deployment ids');
    if (typeof vec.env !== 'object' || vec.env === null || !Object.values(vec.env).every(isEnv)) throw bad(where, '"env" must map loaders to string maps');
    if (!Array.isArray(vec.steps)) throw bad(where, '"steps" must be an array');
    const final = vec.final as Record<string, unknown> | undefined;
    if (typeof final !== 'object' || final === null || !isIdList(final.entries)) throw bad(where, '"final" needs "entries"');
    if (vec.loaders !== undefined && !(Array.isArray(vec.loaders) && vec.loaders.every((l) => l === 'uboot' || l === 'grub'))) {
      throw bad(where, '"loaders" lists "uboot" and/or "grub"');
    }
    const steps = vec.steps.map((s: unknown, j: number) => checkStep(s, `${where} step ${j + 1}`));
    return { ...(vec as unknown as ContractVector), steps };
  });
}

/** Whether a vector applies to a loader. */
export function vectorApplies(vector: ContractVector, kind: LoaderKind): boolean {
  return vector.loaders === undefined || vector.loaders.includes(kind);
}

/** The two stored copies of the environment; null is an unreadable copy. */
interface Store {
  /** U-Boot: newest valid copy; GRUB: primary grubenv. */
  a: BootEnv | null;
  /** U-Boot: the other copy (one write older); GRUB: the redundant grubenv. */
  b: BootEnv | null;
}

function readStore(kind: LoaderKind, s: Store): BootEnv | null {
  return kind === 'uboot' ? s.a : (s.a ?? s.b);
}

/** What the agent writes: U-Boot replaces the older copy; GRUB rewrites both files. */
function agentWrite(kind: LoaderKind, s: Store, env: BootEnv): Store {
  return kind === 'uboot' ? { a: env, b: s.a } : { a: env, b: env };
}

/** What the boot loader writes: U-Boot as the agent; GRUB's save_env per file that is readable. */
function loaderWrite(kind: LoaderKind, s: Store, env: BootEnv): Store {
  if (kind === 'uboot') return { a: env, b: s.a };
  const merge = (copy: BootEnv | null): BootEnv | null => {
    if (copy === null) return null;
    const out: Record<string, string> = { ...copy };
    for (const name of [GRUB_VAR.counter, GRUB_VAR.success]) {
      if (env[name] === undefined) delete out[name];
      else out[name] = env[name];
    }
    return out;
  };
  return { a: merge(s.a), b: merge(s.b) };
}

function corrupt(kind: LoaderKind, s: Store): Store {
  return kind === 'uboot' ? { a: s.b, b: null } : { a: null, b: s.b };
}

/**
 * Runs a vector on the model for one loader. Agent actions that throw are recorded when
 * the step names `expectError`, and rethrown otherwise.
 */
export function simulateVector(vector: ContractVector, kind: LoaderKind): Simulation {
  const initial = vector.env[kind] ?? {};
  let store: Store = { a: initial, b: kind === 'grub' ? initial : null };
  let entries = [...vector.entries];
  let booted: EntryIndex | null = null;
  const steps: StepOutcome[] = [];
  const agentEnv = (): BootEnv => readStore(kind, store) ?? {};
  const act = (step: VectorStep & { expectError?: string; powerCut?: PowerCut }, write: () => void): string | undefined => {
    try {
      write();
      return undefined;
    } catch (e) {
      if (step.expectError && e instanceof CanopyError && e.code === step.expectError) return e.code;
      throw e;
    }
  };
  for (const step of vector.steps) {
    const outcome: Partial<StepOutcome> = { step };
    switch (step.do) {
      case 'boot': {
        const seen = entries.slice(0, 2);
        const loadable = seen.map((id) => !(step.unloadable ?? []).includes(id));
        const result = bootOnce(kind, readStore(kind, store) ?? {}, { entries: seen.length, loadable, saveFails: step.saveFails });
        if (result.saved) store = loaderWrite(kind, store, result.env);
        booted = result.entry;
        outcome.booted = result.entry === null ? null : seen[result.entry];
        break;
      }
      case 'stage':
        outcome.error = act(step, () => {
          const env = stageUpdate(kind, agentEnv(), { tries: step.tries });
          if (step.powerCut === 'env') return;
          store = agentWrite(kind, store, env);
          if (step.powerCut === 'entries') return;
          entries = [step.deployment, entries[booted ?? 0]];
          booted = 1;
        });
        break;
      case 'markGood':
      case 'markBad':
        outcome.error = act(step, () => {
          const env = step.do === 'markGood' ? markGood(kind, agentEnv()) : markBad(kind, agentEnv());
          if (step.powerCut !== 'env') store = agentWrite(kind, store, env);
        });
        break;
      case 'finishRollback': {
        if (step.powerCut === 'entries') break;
        entries = [entries[booted ?? 0]];
        booted = 0;
        if (step.powerCut !== 'env') store = agentWrite(kind, store, finishRollback(kind, agentEnv()));
        break;
      }
      case 'detect':
        if (booted === null) throw new CanopyError('ERR_INVALID_ARGUMENT', `${vector.name}: detect before any boot`, {});
        outcome.verdict = detectFallback(kind, agentEnv(), booted);
        break;
      case 'corruptEnv':
        store = corrupt(kind, store);
        break;
    }
    steps.push({ ...outcome, env: agentEnv(), entries: [...entries] } as StepOutcome);
  }
  return { steps, final: { entries, env: agentEnv() } };
}
