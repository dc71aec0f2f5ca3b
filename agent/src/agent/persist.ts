/**
 * The agent's state file (`<stateDir>/agent-state.json`): the whole
 * {@link AgentState}, rewritten atomically (temporary file, fsync, rename,
 * fsync of the directory) before the runner starts any effect, so a power
 * cut leaves either the old or the new state, never a torn one.
 *
 * Loading is strict and bounded: a file that is not a state this version
 * wrote is ERR_STATE_INVALID. The daemon then keeps the bad file aside and
 * starts from `idle` (the sysroot and the boot loader are the ground truth
 * it re-reads at every start), rather than refusing to run.
 */
import { readFileSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileDurable } from '../platform/durable-file';
import { isChecksum } from '../core/bytes';
import { CanopyError, ioError } from '../core/errors';
import { PHASE_NAMES, type AgentState, type Phase, type Target } from './states';

/** Name of the state file in the state directory. */
export const STATE_FILE = 'agent-state.json';
/** Largest state file read. */
export const MAX_STATE_FILE = 256 * 1024;

/** Writes `data` to `path` atomically and durably (see platform/durable-file.ts). */
export { writeFileDurable };

function invalid(path: string, why: string): CanopyError {
  return new CanopyError('ERR_STATE_INVALID', `${path}: ${why}`, { path });
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function checkTarget(path: string, t: unknown, where: string): Target {
  if (!isObj(t) || typeof t.commit !== 'string' || !isChecksum(t.commit) || typeof t.ref !== 'string'
    || !['announcement', 'poll', 'command'].includes(t.source as string)) {
    throw invalid(path, `${where} is not a target {commit, ref, source}`);
  }
  return t as unknown as Target;
}

/** Checks the shape of a parsed state file; returns it typed. Throws ERR_STATE_INVALID. */
export function checkState(v: unknown, path = STATE_FILE): AgentState {
  if (!isObj(v) || v.v !== 1) throw invalid(path, 'not an agent state of version 1');
  const p = v.phase;
  if (!isObj(p) || !PHASE_NAMES.includes(p.name as Phase['name'])) throw invalid(path, 'phase is missing or unknown');
  if ('target' in p && p.target !== null) checkTarget(path, p.target, 'phase.target');
  if (['downloading', 'deploying', 'staged', 'verifying', 'failed'].includes(p.name as string) && !isObj(p.target)) throw invalid(path, `phase ${String(p.name)} has no target`);
  if (p.name === 'rolling-back' && (typeof p.from !== 'string' || !isChecksum(p.from))) throw invalid(path, 'rolling-back without a from commit');
  if (p.name === 'failed' && (!isObj(p.error) || typeof p.error.code !== 'string')) throw invalid(path, 'failed without an error');
  for (const k of ['running', 'pinned'] as const) {
    const r = v[k];
    if (r !== null && (!isObj(r) || typeof r.commit !== 'string' || !isChecksum(r.commit))) throw invalid(path, `${k} is not null or {commit}`);
  }
  for (const k of ['lastHealth', 'lastRollback', 'lastError'] as const) if (v[k] !== null && !isObj(v[k])) throw invalid(path, `${k} is not null or an object`);
  if (v.bootId !== null && typeof v.bootId !== 'string') throw invalid(path, 'bootId is not a string');
  return v as unknown as AgentState;
}

/** The state file of one agent. */
export class StateStore {
  readonly path: string;
  #last: string | undefined;

  constructor(stateDir: string) {
    this.path = join(stateDir, STATE_FILE);
  }

  /**
   * The saved state, or undefined when there is none.
   *
   * @throws ERR_STATE_INVALID for a file that is too large, not JSON or not a state; ERR_IO.
   */
  load(): AgentState | undefined {
    let bytes: Buffer;
    try {
      if (statSync(this.path).size > MAX_STATE_FILE) throw invalid(this.path, `larger than ${MAX_STATE_FILE} bytes`);
      bytes = readFileSync(this.path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      if (e instanceof CanopyError) throw e;
      throw ioError(e, 'read', this.path);
    }
    let v: unknown;
    try {
      v = JSON.parse(bytes.toString('utf8'));
    } catch (e) {
      throw invalid(this.path, `not JSON (${(e as Error).message})`);
    }
    const state = checkState(v, this.path);
    this.#last = JSON.stringify(state);
    return state;
  }

  /**
   * Saves `state` durably; skips the write when nothing changed since the
   * last load or save. Returns whether it wrote.
   *
   * @throws ERR_IO, ERR_NO_SPACE, ERR_PERMISSION.
   */
  save(state: AgentState): boolean {
    const text = JSON.stringify(state);
    if (text === this.#last) return false;
    writeFileDurable(this.path, `${text}\n`);
    this.#last = text;
    return true;
  }

  /** Moves a bad state file aside (`<file>.bad-<time>`) so the agent can start afresh; returns the new name. */
  quarantine(now: number): string | undefined {
    const to = `${this.path}.bad-${now}`;
    try {
      renameSync(this.path, to);
      return to;
    } catch {
      return undefined;
    }
  }
}
