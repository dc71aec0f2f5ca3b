/**
 * Reading a file of a deployment as the deployment itself would see it:
 * symlinks are followed with the deployment directory as `/` (an absolute
 * target restarts at the deployment root, `..` stops at it), so a commit's
 * `etc/os-release -> /usr/lib/os-release` works and no symlink can reach a
 * file of the running system.
 */
import { lstatSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { CanopyError, ioError } from '../core/errors';

const MAX_HOPS = 40;

/** The host path of `rel` inside `root`, every symlink resolved inside `root`; undefined when something is missing. */
export function resolveInTree(root: string, rel: string): string | undefined {
  let parts = rel.split('/').filter((p) => p !== '' && p !== '.');
  const done: string[] = [];
  let hops = 0;
  while (parts.length > 0) {
    const name = parts.shift()!;
    if (name === '..') {
      done.pop();
      continue;
    }
    const p = join(root, ...done, name);
    const st = lstatSync(p, { throwIfNoEntry: false });
    if (!st) return undefined;
    if (st.isSymbolicLink()) {
      if (++hops > MAX_HOPS) throw new CanopyError('ERR_UNSAFE_PATH', `too many symbolic links resolving ${rel} in ${root}`, { path: join(root, rel) });
      const target = readlinkSync(p);
      if (target.startsWith('/')) done.length = 0;
      parts = [...target.split('/').filter((x) => x !== '' && x !== '.'), ...parts];
      continue;
    }
    if (parts.length > 0 && !st.isDirectory()) return undefined;
    done.push(name);
  }
  return join(root, ...done);
}

/** Reads `rel` inside `root` (see {@link resolveInTree}); undefined when absent. Throws ERR_INVALID_ARGUMENT when larger than `max`, ERR_IO. */
export function readInTree(root: string, rel: string, max: number): string | undefined {
  const p = resolveInTree(root, rel);
  if (p === undefined) return undefined;
  const st = lstatSync(p);
  if (!st.isFile()) return undefined;
  if (st.size > max) throw new CanopyError('ERR_INVALID_ARGUMENT', `${join(root, rel)} is larger than ${max} bytes`, { path: join(root, rel) });
  try {
    return readFileSync(p, 'utf8');
  } catch (e) {
    throw ioError(e, 'read', p);
  }
}
