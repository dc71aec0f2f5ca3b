/**
 * At startup, before any health check: did the boot loader fall back, and why? If it
 * did, finish the rollback the way the boot contract orders it, and remember the commit
 * that failed so that it is not deployed again unless the operator says so.
 *
 * 1. `detectFallback` on the recorded boot state and the booted entry: `health-check`
 *    (mark-bad was written), `tries-exhausted` (the trial never got confirmed), or
 *    `not-recorded` (the previous entry booted without the boot loader recording a
 *    fallback: entry 0 did not load, or the env could not be saved).
 * 2. The failure recorded before mark-bad (`last-failure.json`: which checks, their
 *    output) is attached when it belongs to the commit fallen back from.
 * 3. Persist first: the rollback record (`last-rollback.json`) and the rejected commit.
 * 4. Then the contract's order: the caller's `removeFailedEntries` writes the boot entries
 *    with the running deployment alone, then `finishRollback` clears the boot-loader
 *    markers. Finishing the other way round would let the next boot start the failed
 *    deployment again, untried.
 * 5. The record is marked finished and the consumed failure removed.
 *
 * A second call in the same boot (same boot id) returns the record and changes nothing;
 * a call after an interruption between 3 and 5 resumes at 4 with the recorded reason.
 */
import { join } from 'node:path';
import { detectFallback, type BootloaderName, type EntryIndex, type FallbackReason } from '../bootloader/index';
import { assertChecksum } from '../core/bytes';
import { CanopyError } from '../core/errors';
import type { ConfirmPorts } from './confirm';
import { rejectCommit } from './rejected-commits';
import {
  HEALTH_STATE_DIR, LAST_FAILURE_FILE, LAST_ROLLBACK_FILE, isObject, optString, readStateFile, removeStateFile, stateInvalid,
  writeStateFile,
} from './state-files';
import type { HealthFailure } from './verdict';

/** The boot being checked. */
export interface AfterBootInfo {
  /** The entry the system came from (from `/proc/cmdline`'s `ostree=`): 0 default, 1 previous. */
  bootedEntry: EntryIndex;
  /** `/proc/sys/kernel/random/boot_id`: a second call in the same boot is a no-op. */
  bootId: string;
  /** The commit of the deployment fallen back from (entry 0's), when the caller knows it. */
  failedCommit?: string | null;
  /** The booted commit, when known. */
  bootedCommit?: string | null;
}

/** What happened, as kept in `last-rollback.json` and reported upstream. */
export interface RollbackRecord {
  version: 1;
  bootId: string;
  /** The commit fallen back from; null when neither the caller nor a recorded failure names it. */
  commit: string | null;
  bootedCommit: string | null;
  reason: FallbackReason;
  bootloader: BootloaderName;
  /** The required checks that failed the trial (empty unless a failure was recorded for this commit). */
  failed: HealthFailure[];
  /** When that failure was recorded. */
  failureTime: string | null;
  detectedAt: string;
  /** Set once the boot loader's markers are cleared. */
  finishedAt: string | null;
}

export type AfterBootResult =
  | { fellBack: false }
  | { fellBack: true; record: RollbackRecord; repeated: boolean };

const REASONS: readonly string[] = ['health-check', 'tries-exhausted', 'not-recorded'];

function failuresFrom(v: unknown): HealthFailure[] | null {
  if (!Array.isArray(v)) return null;
  const out: HealthFailure[] = [];
  for (const f of v) {
    if (!isObject(f) || typeof f.check !== 'string' || typeof f.outputTail !== 'string') return null;
    out.push({
      check: f.check, kind: 'required',
      status: f.status === 'timeout' || f.status === 'error' ? f.status : 'failed',
      exitCode: typeof f.exitCode === 'number' ? f.exitCode : null,
      signal: typeof f.signal === 'string' ? f.signal : null,
      timeout: f.timeout === true,
      message: typeof f.message === 'string' ? f.message : null,
      attempts: typeof f.attempts === 'number' ? f.attempts : 1,
      outputTail: f.outputTail,
    });
  }
  return out;
}

async function readFailure(dir: string): Promise<{ commit: string | null; time: string; failed: HealthFailure[] } | null> {
  const v = await readStateFile(dir, LAST_FAILURE_FILE);
  if (v === null) return null;
  const failed = isObject(v) && isObject(v.report) ? failuresFrom(v.report.failed) : null;
  if (!isObject(v) || v.version !== 1 || !optString(v.commit) || typeof v.time !== 'string' || failed === null) {
    throw stateInvalid(join(dir, LAST_FAILURE_FILE), 'expected {version: 1, commit, time, report: {failed: [...]}}');
  }
  return { commit: v.commit ?? null, time: v.time, failed };
}

/**
 * The latest rollback record, or null.
 *
 * @throws ERR_STATE_INVALID for a malformed file; ERR_IO when it cannot be read.
 */
export async function readRollbackRecord(stateDir: string = HEALTH_STATE_DIR): Promise<RollbackRecord | null> {
  const v = await readStateFile(stateDir, LAST_ROLLBACK_FILE);
  if (v === null) return null;
  const failed = isObject(v) ? failuresFrom(v.failed) : null;
  if (!isObject(v) || v.version !== 1 || typeof v.bootId !== 'string' || !optString(v.commit) || !optString(v.bootedCommit)
    || typeof v.reason !== 'string' || !REASONS.includes(v.reason) || typeof v.bootloader !== 'string' || failed === null
    || !optString(v.failureTime) || typeof v.detectedAt !== 'string' || !optString(v.finishedAt)) {
    throw stateInvalid(join(stateDir, LAST_ROLLBACK_FILE), 'not a rollback record');
  }
  return {
    version: 1, bootId: v.bootId, commit: v.commit ?? null, bootedCommit: v.bootedCommit ?? null,
    reason: v.reason as FallbackReason, bootloader: v.bootloader as BootloaderName, failed,
    failureTime: v.failureTime ?? null, detectedAt: v.detectedAt, finishedAt: v.finishedAt ?? null,
  };
}

/**
 * Detects and finishes a fallback; see the module comment for the steps.
 *
 * @throws ERR_INVALID_ARGUMENT for an empty boot id; ERR_CHECKSUM_INVALID for a commit that
 *   is not 64 hex digits; ERR_STATE_INVALID for malformed state files; the backend's
 *   ERR_ENV_* / ERR_IO; whatever `removeFailedEntries` throws (then the markers stay and
 *   the next call resumes).
 */
export async function checkAfterBoot(
  ports: Omit<ConfirmPorts, 'reboot'>, boot: AfterBootInfo, removeFailedEntries: () => Promise<void>,
): Promise<AfterBootResult> {
  if (typeof boot.bootId !== 'string' || boot.bootId.trim() === '' || boot.bootId.length > 128) {
    throw new CanopyError('ERR_INVALID_ARGUMENT', 'checkAfterBoot needs the boot id (/proc/sys/kernel/random/boot_id)', {});
  }
  for (const c of [boot.failedCommit, boot.bootedCommit]) if (c) assertChecksum(c, 'commit');
  const dir = ports.stateDir ?? HEALTH_STATE_DIR;
  const now = (): string => new Date((ports.now ?? Date.now)()).toISOString();
  const bootId = boot.bootId.trim();
  const prior = await readRollbackRecord(dir);
  if (prior && prior.bootId === bootId) {
    if (prior.finishedAt !== null) return { fellBack: true, record: prior, repeated: true };
    return { fellBack: true, record: await finish(ports, dir, prior, removeFailedEntries, now), repeated: false };
  }
  const state = await ports.backend.readState();
  if (state.name === 'none') return { fellBack: false };
  const verdict = detectFallback(state.name, state.env, boot.bootedEntry);
  if (!verdict.fellBack) return { fellBack: false };
  const failure = await readFailure(dir);
  const known = boot.failedCommit ?? null;
  const applies = failure !== null && (known === null || failure.commit === null || failure.commit === known);
  const record: RollbackRecord = {
    version: 1, bootId, commit: known ?? (applies ? failure.commit : null), bootedCommit: boot.bootedCommit ?? null,
    reason: verdict.reason, bootloader: state.name, failed: applies ? failure.failed : [],
    failureTime: applies ? failure.time : null, detectedAt: now(), finishedAt: null,
  };
  await writeStateFile(dir, LAST_ROLLBACK_FILE, record);
  if (record.commit !== null) {
    await rejectCommit(dir, { commit: record.commit, reason: record.reason, check: record.failed[0]?.check ?? null, time: record.detectedAt });
  }
  return { fellBack: true, record: await finish(ports, dir, record, removeFailedEntries, now), repeated: false };
}

async function finish(
  ports: Omit<ConfirmPorts, 'reboot'>, dir: string, record: RollbackRecord, removeFailedEntries: () => Promise<void>, now: () => string,
): Promise<RollbackRecord> {
  await removeFailedEntries();
  await ports.backend.finishRollback();
  const done: RollbackRecord = { ...record, finishedAt: now() };
  await writeStateFile(dir, LAST_ROLLBACK_FILE, done);
  await removeStateFile(dir, LAST_FAILURE_FILE);
  return done;
}
