/**
 * Putting a new file or symlink at a name in a checkout, under the overwrite
 * rules of a plain checkout, `union` or `unionAdd`:
 *
 * - the entry is first created at its name exclusively (open O_EXCL, link,
 *   symlink: none of them follows a symlink that is already there);
 * - when the name is taken: a plain checkout fails (ERR_CHECKOUT_EXISTS),
 *   unionAdd keeps what is there, union creates the entry under a temporary
 *   name in the same directory and renames it over the old one. rename()
 *   replaces a file or a symlink itself, never what a symlink points to; a
 *   directory in the way is ERR_CHECKOUT_CONFLICT (as in ostree).
 */
import { randomBytes } from 'node:crypto';
import { linkSync, lstatSync, renameSync, rmSync, unlinkSync, type Stats } from 'node:fs';
import { CanopyError, ioError } from '../core/errors';

/** What a checkout does with an entry that already exists. */
export type Overwrite = 'none' | 'union' | 'add';

const errno = (e: unknown): string | undefined => (e as NodeJS.ErrnoException)?.code;

export class EntryPlacer {
  private seq = 0;
  private readonly tag = `${process.pid}-${randomBytes(4).toString('hex')}`;

  constructor(readonly overwrite: Overwrite) {}

  /**
   * Creates `dirPath/name` with `create`, which must fail with EEXIST when
   * the name exists. Returns false when unionAdd kept an existing entry.
   */
  place(dirPath: string, name: string, create: (path: string) => void): boolean {
    const dest = dirPath + '/' + name;
    try {
      create(dest);
      return true;
    } catch (e) {
      if (errno(e) !== 'EEXIST') throw ioError(e, 'create', dest);
    }
    return this.replaceExisting(dirPath, name, create);
  }

  /**
   * The name is taken: keep the old entry (unionAdd) or rename a new one over
   * it (union). `same` lets an entry that already is the wanted inode stand
   * (renaming a hardlink over itself would do nothing and leave the temporary).
   */
  replaceExisting(dirPath: string, name: string, create: (path: string) => void, same?: (st: Stats) => boolean): boolean {
    const dest = dirPath + '/' + name;
    if (this.overwrite === 'add') return false;
    if (this.overwrite === 'none') throw new CanopyError('ERR_CHECKOUT_EXISTS', `${dest} already exists`, { path: dest });
    let st: Stats;
    try {
      st = lstatSync(dest);
    } catch (e) {
      throw ioError(e, 'stat', dest);
    }
    if (st.isDirectory()) throw conflict(dest);
    if (same?.(st)) return true;
    const tmp = this.tmpPath(dirPath);
    try {
      create(tmp);
      renameSync(tmp, dest);
    } catch (e) {
      rmSync(tmp, { force: true });
      throw ioError(e, 'replace', dest);
    }
    return true;
  }

  /**
   * Moves a finished temporary file `tmp` (in `dirPath`) to `name`. Returns
   * false when unionAdd kept an existing entry (the temporary is removed).
   */
  install(tmp: string, dirPath: string, name: string): boolean {
    const dest = dirPath + '/' + name;
    if (this.overwrite === 'union') {
      if (lstatSync(dest, { throwIfNoEntry: false })?.isDirectory()) throw conflict(dest);
      renameSync(tmp, dest);
      return true;
    }
    try {
      linkSync(tmp, dest);
    } catch (e) {
      if (errno(e) !== 'EEXIST') throw e;
      unlinkSync(tmp);
      if (this.overwrite === 'add') return false;
      throw new CanopyError('ERR_CHECKOUT_EXISTS', `${dest} already exists`, { path: dest });
    }
    unlinkSync(tmp);
    return true;
  }

  /** A fresh temporary name inside `dirPath` (created exclusively by the caller). */
  tmpPath(dirPath: string): string {
    return `${dirPath}/.canopy-checkout-${this.tag}-${++this.seq}`;
  }
}

function conflict(dest: string): CanopyError {
  return new CanopyError('ERR_CHECKOUT_CONFLICT', `${dest} is a directory, but the commit has a file there`, { path: dest });
}
