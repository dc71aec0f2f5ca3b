/**
 * Feeding a whole file into a hash in bounded chunks (sequential synchronous
 * reads, one reused buffer), for files too large to read at once.
 */
import type { Hash } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';
import { ioError } from '../core/errors';

const CHUNK = 4 << 20;
let shared: Buffer | undefined;

/**
 * Updates `h` with every byte of `path` and returns how many there were.
 *
 * @throws ERR_IO, ERR_PERMISSION naming the path.
 */
export function hashFileInto(h: Hash, path: string): number {
  const buf = (shared ??= Buffer.allocUnsafe(CHUNK));
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw ioError(e, 'open', path);
  }
  let total = 0;
  try {
    for (let n; (n = readSync(fd, buf, 0, buf.length, null)) > 0;) {
      h.update(buf.subarray(0, n));
      total += n;
    }
  } catch (e) {
    throw ioError(e, 'read', path);
  } finally {
    closeSync(fd);
  }
  return total;
}
