/**
 * The health state the agent keeps under its state directory (default
 * `/var/lib/canopy/health`; `/var` is shared by all deployments, so it survives a
 * rollback):
 *
 * | file | written | holds |
 * | --- | --- | --- |
 * | `last-report.json` | after every confirming run | the latest {@link HealthReport} |
 * | `last-failure.json` | before mark-bad | the commit, the time and the report that failed the trial |
 * | `last-rollback.json` | when a fallback is seen | the {@link RollbackRecord} of the latest rollback |
 * | `rejected-commits.json` | when a fallback is seen | commits not to deploy again unless told to |
 *
 * Each file is JSON, replaced whole (temporary file, fsync, rename, directory fsync), so
 * a power cut leaves the old or the new file. Reads are bounded and checked.
 */
import { open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { CanopyError, ioError } from '../core/errors';
import { writeFileDurable } from '../platform/durable-file';

/** Default state directory. */
export const HEALTH_STATE_DIR = '/var/lib/canopy/health';
export const LAST_REPORT_FILE = 'last-report.json';
export const LAST_FAILURE_FILE = 'last-failure.json';
export const LAST_ROLLBACK_FILE = 'last-rollback.json';
export const REJECTED_COMMITS_FILE = 'rejected-commits.json';

/** Largest state file read. */
export const STATE_FILE_MAX = 1024 * 1024;

async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Replaces `dir/name` with `value` as JSON, atomically and durably; creates `dir` (0700).
 *
 * @throws ERR_IO, ERR_PERMISSION, ERR_NO_SPACE.
 */
export async function writeStateFile(dir: string, name: string, value: unknown): Promise<void> {
  writeFileDurable(join(dir, name), `${JSON.stringify(value, null, 2)}\n`);
}

/**
 * Reads `dir/name` as JSON; null when it does not exist.
 *
 * @throws ERR_STATE_INVALID when it is larger than {@link STATE_FILE_MAX} or not JSON;
 *   ERR_IO / ERR_PERMISSION when it cannot be read.
 */
export async function readStateFile(dir: string, name: string): Promise<unknown> {
  const path = join(dir, name);
  let text: string;
  try {
    const fh = await open(path, 'r');
    try {
      const { size } = await fh.stat();
      if (size > STATE_FILE_MAX) throw stateInvalid(path, `larger than ${STATE_FILE_MAX} bytes`);
      text = (await fh.readFile()).toString('utf8');
    } finally {
      await fh.close();
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw ioError(e, 'read state file', path);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw stateInvalid(path, `not JSON (${(e as Error).message})`);
  }
}

/** Removes `dir/name` if it exists (and makes that durable). */
export async function removeStateFile(dir: string, name: string): Promise<void> {
  const path = join(dir, name);
  try {
    await rm(path, { force: true });
    await fsyncDir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw ioError(e, 'remove state file', path);
  }
}

/** The error for a malformed state file. */
export function stateInvalid(path: string, why: string): CanopyError {
  return new CanopyError('ERR_STATE_INVALID', `${path}: ${why}`, { path });
}

/** Narrowing helpers for reading records back. */
export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function optString(v: unknown): v is string | null | undefined {
  return v === undefined || v === null || typeof v === 'string';
}
