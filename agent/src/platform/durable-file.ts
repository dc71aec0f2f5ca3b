/**
 * Replacing a small file so that a power cut leaves the old or the new
 * content, never a torn file: write a temporary file beside it, fsync it,
 * rename it over the old one, fsync the directory. Used for the agent's
 * state, the replay store and other small device state.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { ioError } from '../core/errors';

export interface DurableWriteOptions {
  /** Mode of a directory that has to be created (default 0700). */
  dirMode?: number;
  /** Mode of the file (default 0600). */
  fileMode?: number;
  /** Create the directory when missing (default true). */
  createDir?: boolean;
}

/**
 * Writes `data` to `path` atomically and durably, creating the directory unless told not to.
 *
 * @throws ERR_IO, ERR_NO_SPACE, ERR_PERMISSION (naming the path).
 */
export function writeFileDurable(path: string, data: string | Uint8Array, opts: DurableWriteOptions = {}): void {
  const dir = dirname(path);
  const tmp = `${path}.tmp-${process.pid}`;
  const bytes = typeof data === 'string' ? Buffer.from(data) : data;
  try {
    if (opts.createDir !== false) mkdirSync(dir, { recursive: true, mode: opts.dirMode ?? 0o700 });
    const fd = openSync(tmp, 'w', opts.fileMode ?? 0o600);
    try {
      for (let off = 0; off < bytes.length;) off += writeSync(fd, bytes, off, bytes.length - off);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
    const dfd = openSync(dir, 'r');
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  } catch (e) {
    rmSync(tmp, { force: true });
    throw ioError(e, 'write', path);
  }
}
