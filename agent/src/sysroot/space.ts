/**
 * Free-space checks before writing: a deployment that runs out of space half
 * way leaves work for the next cleanup, and a /boot that fills up while
 * kernels are copied is worse. The check names the mount point and the bytes
 * needed so the operator knows what to free.
 */
import { statfsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { CanopyError, ioError } from '../core/errors';

/** Free space of one file system: what root may use when running as root (`bfree`), else what users may (`bavail`). */
export interface FreeSpace {
  mount: string;
  bytes: number;
  inodes: number;
}

/** The mount point holding `path`: the highest ancestor on the same device. */
export function mountPointOf(path: string): string {
  let p = resolve(path);
  let st = statSync(p, { throwIfNoEntry: false });
  while (!st && p !== '/') {
    p = dirname(p);
    st = statSync(p, { throwIfNoEntry: false });
  }
  if (!st) return '/';
  for (;;) {
    const parent = dirname(p);
    if (parent === p) return p;
    const pst = statSync(parent, { throwIfNoEntry: false });
    if (!pst || pst.dev !== st.dev) return p;
    p = parent;
  }
}

/** Free bytes and inodes of the file system holding `path` (its nearest existing ancestor). */
export function freeSpace(path: string): FreeSpace {
  const mount = mountPointOf(path);
  try {
    const s = statfsSync(mount);
    const root = process.getuid?.() === 0;
    return { mount, bytes: Number(root ? s.bfree : s.bavail) * Number(s.bsize), inodes: Number(s.ffree) };
  } catch (e) {
    throw ioError(e, 'statfs', mount);
  }
}

/** A small allowance for metadata (directories, journal) on top of each estimate. */
export const SPACE_MARGIN = 1024 * 1024;

/**
 * Throws ERR_NO_SPACE unless the file system holding `path` has `bytes`
 * (plus {@link SPACE_MARGIN}) and `inodes` free. `what` says what the space
 * is for. `probe` is injectable for tests.
 */
export function ensureSpace(path: string, need: { bytes: number; inodes?: number }, what: string, probe: (p: string) => FreeSpace = freeSpace): void {
  const free = probe(path);
  const bytes = need.bytes + SPACE_MARGIN;
  const inodes = need.inodes ?? 0;
  if (free.bytes < bytes) {
    throw new CanopyError('ERR_NO_SPACE', `${what} needs ${bytes} bytes on ${free.mount}, which has ${free.bytes} free`, {
      mount: free.mount, neededBytes: bytes, availableBytes: free.bytes, what,
    });
  }
  // File systems without an inode limit (btrfs) report 0 free inodes.
  if (inodes > 0 && free.inodes > 0 && free.inodes < inodes) {
    throw new CanopyError('ERR_NO_SPACE', `${what} needs ${inodes} inodes on ${free.mount}, which has ${free.inodes} free`, {
      mount: free.mount, neededInodes: inodes, availableInodes: free.inodes, what,
    });
  }
}
