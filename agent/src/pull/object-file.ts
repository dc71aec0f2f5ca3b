/**
 * Writing one new object file with as little work per file as Node allows:
 * a chain of callback-style fs calls on the descriptor (open exclusive,
 * write, fchown, fchmod, futimes, close), each one thread-pool job and no
 * promise or FileHandle per step. For the thousands of small objects of a
 * pull this halves the JavaScript time of the fs.promises equivalent.
 */
import { close, fchmod, fchown, futimes, open, write } from 'node:fs';

export interface ObjectFileOptions {
  /** Permission bits, applied exactly (the umask and chown do not change them). */
  mode: number;
  /** Owner to set (bare repositories). */
  owner?: { uid: number; gid: number };
  /** Set mtime (and atime) to 0, as bare repositories store objects. */
  zeroTime?: boolean;
}

const UMASK = process.umask();

/** Creates `path` (it must not exist) holding `data`. Rejects with the fs error; a partial file may remain for the caller to remove. */
export function writeObjectFile(path: string, data: Uint8Array, opts: ObjectFileOptions): Promise<void> {
  return new Promise((resolve, reject) => {
    open(path, 'wx', opts.mode, (err, fd) => {
      if (err) return reject(err);
      const fail = (e: Error): void => close(fd, () => reject(e));
      const steps: Array<(next: (e: Error | null) => void) => void> = [];
      if (opts.owner) steps.push((next) => fchown(fd, opts.owner!.uid, opts.owner!.gid, next));
      // open() applies the umask and chown clears setuid/setgid: set the mode again when either matters.
      if ((opts.mode & UMASK) !== 0 || (opts.owner && (opts.mode & 0o6000) !== 0)) steps.push((next) => fchmod(fd, opts.mode, next));
      if (opts.zeroTime) steps.push((next) => futimes(fd, 0, 0, next));
      const run = (i: number): void => {
        if (i === steps.length) {
          close(fd, (e) => (e ? reject(e) : resolve()));
          return;
        }
        steps[i]((e) => (e ? fail(e) : run(i + 1)));
      };
      const writeFrom = (off: number): void => {
        if (off >= data.length) return run(0);
        write(fd, data, off, data.length - off, null, (e, n) => (e ? fail(e) : writeFrom(off + n)));
      };
      writeFrom(0);
    });
  });
}
