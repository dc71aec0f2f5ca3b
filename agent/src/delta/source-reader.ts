/**
 * Reading old ("read source") objects while a delta part is applied.
 * Rollsum writes copy ranges of an old file object and bspatch needs all of
 * it, so both need the raw content: a bare or bare-user-only repository
 * keeps that as a plain file. Ranges are read with positioned reads from
 * one open descriptor (memory stays at the range size); a whole object is
 * read only for bspatch, and only up to a size limit.
 *
 * The old content is not re-hashed here: whatever is produced from it is
 * hashed against the object's name before it is stored, so a corrupt
 * source can only make the application fail, never store a wrong object.
 */
import { closeSync, fstatSync, lstatSync, openSync, readSync } from 'node:fs';
import { CanopyError, ioError } from '../core/errors';
import { ObjectType } from '../objects/index';
import type { Repo } from '../repo/index';

interface OpenSource {
  checksum: string;
  fd: number;
  size: number;
  path: string;
}

export class SourceReader {
  private cur: OpenSource | undefined;

  /** @param maxWholeSize largest object {@link readAll} will read */
  constructor(private readonly repo: Repo, private readonly maxWholeSize: number) {}

  private open(checksum: string): OpenSource {
    if (this.cur?.checksum === checksum) return this.cur;
    this.close();
    const path = this.repo.objectPath(checksum, ObjectType.FILE);
    const st = lstatSync(path, { throwIfNoEntry: false });
    if (!st) {
      throw new CanopyError('ERR_OBJECT_NOT_FOUND', `the delta reads from file object ${checksum}, which is not in ${this.repo.path} (is the delta's from-commit complete?)`, { checksum });
    }
    if (!st.isFile()) {
      throw new CanopyError('ERR_DELTA_INVALID', `the delta reads from file object ${checksum}, which is not a regular file`, { checksum });
    }
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (e) {
      throw ioError(e, 'open', path);
    }
    this.cur = { checksum, fd, size: fstatSync(fd).size, path };
    return this.cur;
  }

  /** Size of the content of `checksum`. Throws as {@link read}. */
  size(checksum: string): number {
    return this.open(checksum).size;
  }

  /**
   * Copies `length` bytes of the content of `checksum` at `offset` into
   * `into` at `at`.
   *
   * @throws CanopyError ERR_OBJECT_NOT_FOUND when the object is absent;
   *   ERR_DELTA_INVALID when it is not a regular file or the range lies
   *   outside it; ERR_IO when reading fails.
   */
  read(checksum: string, offset: number, length: number, into: Uint8Array, at: number): void {
    const s = this.open(checksum);
    if (offset > s.size || length > s.size - offset) {
      throw new CanopyError('ERR_DELTA_INVALID', `the delta reads bytes [${offset}, ${offset + length}) of file object ${checksum}, which has ${s.size}`, { checksum, offset, length, size: s.size });
    }
    let done = 0;
    try {
      while (done < length) {
        const n = readSync(s.fd, into, at + done, length - done, offset + done);
        if (n === 0) throw new Error('unexpected end of file');
        done += n;
      }
    } catch (e) {
      throw ioError(e, 'read', s.path);
    }
  }

  /**
   * The whole content of `checksum` (a bspatch source).
   *
   * @throws CanopyError ERR_BUDGET_EXCEEDED when it is larger than the
   *   limit; otherwise as {@link read}.
   */
  readAll(checksum: string): Uint8Array {
    const size = this.size(checksum);
    if (size > this.maxWholeSize) {
      throw new CanopyError('ERR_BUDGET_EXCEEDED', `bspatch source ${checksum} has ${size} bytes, more than the ${this.maxWholeSize} allowed (raise maxSourceSize)`, { checksum, size, limit: this.maxWholeSize });
    }
    const buf = new Uint8Array(size);
    this.read(checksum, 0, size, buf, 0);
    return buf;
  }

  /** Closes the open descriptor, if any. */
  close(): void {
    if (this.cur) {
      closeSync(this.cur.fd);
      this.cur = undefined;
    }
  }
}
