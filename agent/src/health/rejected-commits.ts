/**
 * Commits the device fell back from, and must not deploy again unless told to: the
 * answer to the update loop that follows an automatic rollback when the server keeps
 * offering the same release. Kept in `rejected-commits.json` under the health state
 * directory:
 *
 * ```json
 * { "version": 1, "rejected": [ { "commit": "…64 hex…", "reason": "health-check", "check": "20-app", "time": "2025-…Z" } ] }
 * ```
 *
 * The list keeps the newest {@link REJECTED_MAX} entries, one per commit.
 */
import { join } from 'node:path';
import { assertChecksum } from '../core/bytes';
import type { FallbackReason } from '../bootloader/index';
import {
  REJECTED_COMMITS_FILE, isObject, optString, readStateFile, stateInvalid, writeStateFile,
} from './state-files';

/** Most commits remembered. */
export const REJECTED_MAX = 64;

/** One rejected commit. */
/** Why a commit is rejected: a boot-loader fallback, or an operator's rollback command. */
export type RejectReason = FallbackReason | 'remote-command';

export interface RejectedCommit {
  commit: string;
  /** Why the device left it. */
  reason: RejectReason;
  /** The failing required check, when a health check was the reason. */
  check: string | null;
  /** When it was rejected, ISO 8601. */
  time: string;
}

const REASONS: readonly string[] = ['health-check', 'tries-exhausted', 'not-recorded', 'remote-command'];

/**
 * The rejected commits, oldest first.
 *
 * @throws ERR_STATE_INVALID for a malformed file; ERR_IO when it cannot be read.
 */
export async function readRejectedCommits(stateDir: string): Promise<RejectedCommit[]> {
  const value = await readStateFile(stateDir, REJECTED_COMMITS_FILE);
  if (value === null) return [];
  const where = join(stateDir, REJECTED_COMMITS_FILE);
  if (!isObject(value) || value.version !== 1 || !Array.isArray(value.rejected)) {
    throw stateInvalid(where, 'expected {"version": 1, "rejected": [...]}');
  }
  return value.rejected.map((e, i): RejectedCommit => {
    if (!isObject(e) || typeof e.commit !== 'string' || !/^[0-9a-f]{64}$/.test(e.commit)
      || typeof e.reason !== 'string' || !REASONS.includes(e.reason) || !optString(e.check) || typeof e.time !== 'string') {
      throw stateInvalid(where, `entry ${i} is not {commit, reason, check, time}`);
    }
    return { commit: e.commit, reason: e.reason as RejectReason, check: e.check ?? null, time: e.time };
  });
}

/**
 * True when `commit` was rejected (and not forgotten since).
 *
 * @throws ERR_CHECKSUM_INVALID for a commit that is not 64 lowercase hex digits;
 *   as {@link readRejectedCommits}.
 */
export async function isRejected(stateDir: string, commit: string): Promise<boolean> {
  assertChecksum(commit, 'commit');
  return (await readRejectedCommits(stateDir)).some((e) => e.commit === commit);
}

/**
 * Adds (or refreshes) a rejected commit. Returns false when it was already listed with
 * the same reason and check (nothing written).
 *
 * @throws ERR_CHECKSUM_INVALID; as {@link readRejectedCommits} and the writes.
 */
export async function rejectCommit(stateDir: string, entry: RejectedCommit): Promise<boolean> {
  assertChecksum(entry.commit, 'commit');
  const list = await readRejectedCommits(stateDir);
  const old = list.find((e) => e.commit === entry.commit);
  if (old && old.reason === entry.reason && old.check === entry.check) return false;
  const next = [...list.filter((e) => e.commit !== entry.commit), entry].slice(-REJECTED_MAX);
  await writeStateFile(stateDir, REJECTED_COMMITS_FILE, { version: 1, rejected: next });
  return true;
}

/**
 * Removes a commit from the list (the operator offers it again on purpose). Returns
 * false when it was not listed.
 *
 * @throws ERR_CHECKSUM_INVALID; as {@link readRejectedCommits} and the writes.
 */
export async function forgetRejected(stateDir: string, commit: string): Promise<boolean> {
  assertChecksum(commit, 'commit');
  const list = await readRejectedCommits(stateDir);
  const next = list.filter((e) => e.commit !== commit);
  if (next.length === list.length) return false;
  await writeStateFile(stateDir, REJECTED_COMMITS_FILE, { version: 1, rejected: next });
  return true;
}
