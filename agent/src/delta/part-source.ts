/**
 * Where the bytes of delta parts come from. The applier asks for part `i`
 * only when the repository lacks some object the part produces, and only
 * when the part is not inline in the superblock. It checks the length and
 * the sha256 of what it gets against the part header itself, so a source
 * only has to deliver bytes; it should refuse to read more than
 * `header.size` (the bound it is given) so a hostile server or file cannot
 * make it allocate more.
 *
 * - offline: {@link directoryPartSource} reads `<dir>/<i>` next to the
 *   superblock (what `ostree static-delta apply-offline` does);
 * - over HTTP: the puller implements `getPart` with a GET of
 *   `deltas/…/<i>` capped at `header.size` bytes.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { CanopyError, ioError } from '../core/errors';
import type { DeltaPartHeader } from './superblock';

export interface PartSource {
  /**
   * The part file of part `index` (the serialized `(yay)`: compression
   * byte and payload). `header` is the part's header; a source must not
   * return or buffer more than `header.size` bytes (more is an error).
   */
  getPart(index: number, header: DeltaPartHeader): Promise<Uint8Array>;
}

/**
 * Reads parts from a directory holding the files `0`, `1`, … (a delta
 * directory of a repository, or a copy of one on a USB stick).
 *
 * @returns a source whose `getPart` throws ERR_OBJECT_NOT_FOUND for a
 *   missing part file, ERR_DELTA_INVALID for one whose size differs from its
 *   header (nothing past `header.size` is read), ERR_IO otherwise.
 */
export function directoryPartSource(dir: string): PartSource {
  return {
    async getPart(index, header) {
      const path = join(dir, String(index));
      let fd: number;
      try {
        fd = openSync(path, 'r');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
          throw new CanopyError('ERR_OBJECT_NOT_FOUND', `delta part ${index} is missing: no file ${path}`, { part: index, path });
        }
        throw ioError(e, 'open', path);
      }
      try {
        const size = fstatSync(fd).size;
        if (size !== header.size) {
          throw new CanopyError('ERR_DELTA_INVALID', `delta part ${index} (${path}) has ${size} bytes, its header says ${header.size}`, { part: index, size, expected: header.size });
        }
        const buf = Buffer.allocUnsafe(size);
        let off = 0;
        while (off < size) {
          const n = readSync(fd, buf, off, size - off, off);
          if (n === 0) break;
          off += n;
        }
        if (off !== size) throw new CanopyError('ERR_DELTA_INVALID', `delta part ${index} (${path}) shrank while it was read`, { part: index });
        return buf;
      } catch (e) {
        throw ioError(e, 'read', path);
      } finally {
        closeSync(fd);
      }
    },
  };
}
