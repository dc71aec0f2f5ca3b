/**
 * Creating a sysroot and a stateroot, as `ostree admin init-fs` and
 * `ostree admin os-init` do:
 *
 * - init-fs: `boot dev home proc run sys` (0755), `root` (0700), `tmp`
 *   (01777) unless `modern` (then only `boot`), then `ostree/repo` (a bare
 *   repository, kept when present) and `ostree/deploy`;
 * - os-init: `ostree/deploy/<os>/var` with `tmp` (01777), `lib`, `log`
 *   (0755), `run -> ../run` and `lock -> ../run/lock`.
 */
import { chmodSync, existsSync, mkdirSync, symlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CanopyError, ioError } from '../core/errors';
import { Repo } from '../repo/repo';
import { REPO_DIR, assertStateroot, stateRootDir } from './layout';

function mkdirp(p: string, mode: number): void {
  try {
    mkdirSync(p, { recursive: true, mode });
  } catch (e) {
    throw ioError(e, 'mkdir', p);
  }
}

/** Makes sure `ostree/repo` (bare) and `ostree/deploy` exist. Throws ERR_REPO_INVALID for a broken repository, ERR_IO. */
export function ensureInitialized(sysroot: string): Repo {
  const abs = resolve(sysroot);
  mkdirp(join(abs, REPO_DIR), 0o755);
  mkdirp(join(abs, 'ostree/deploy'), 0o755);
  return existsSync(join(abs, REPO_DIR, 'config')) ? Repo.open(join(abs, REPO_DIR)) : Repo.init(join(abs, REPO_DIR), { mode: 'bare' });
}

/** `admin init-fs PATH`. `PATH` must exist. Throws ERR_INVALID_ARGUMENT (no such directory), ERR_IO. */
export function initFs(path: string, opts: { modern?: boolean } = {}): void {
  const abs = resolve(path);
  if (!existsSync(abs)) throw new CanopyError('ERR_INVALID_ARGUMENT', `${abs} does not exist`, { path: abs });
  mkdirp(join(abs, 'boot'), 0o755);
  if (!opts.modern) {
    for (const d of ['dev', 'home', 'proc', 'run', 'sys']) mkdirp(join(abs, d), 0o755);
    mkdirp(join(abs, 'root'), 0o700);
    mkdirp(join(abs, 'tmp'), 0o1777);
    try {
      chmodSync(join(abs, 'tmp'), 0o1777);
    } catch (e) {
      throw ioError(e, 'chmod', join(abs, 'tmp'));
    }
  }
  ensureInitialized(abs);
}

/** `admin os-init OS`. Throws ERR_STATEROOT_EXISTS, ERR_INVALID_ARGUMENT (bad name), ERR_IO. */
export function osInit(sysroot: string, stateroot: string): void {
  assertStateroot(stateroot);
  const abs = resolve(sysroot);
  ensureInitialized(abs);
  const dir = join(abs, stateRootDir(stateroot));
  try {
    mkdirSync(dir, { mode: 0o777 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new CanopyError('ERR_STATEROOT_EXISTS', `stateroot ${stateroot} already exists in ${abs}`, { stateroot });
    throw ioError(e, 'mkdir', dir);
  }
  try {
    mkdirSync(join(dir, 'var'), { mode: 0o777 });
    mkdirSync(join(dir, 'var/tmp'), { mode: 0o777 });
    chmodSync(join(dir, 'var/tmp'), 0o1777);
    mkdirSync(join(dir, 'var/lib'), { mode: 0o777 });
    mkdirSync(join(dir, 'var/log'), { mode: 0o755 });
    symlinkSync('../run', join(dir, 'var/run'));
    symlinkSync('../run/lock', join(dir, 'var/lock'));
  } catch (e) {
    throw ioError(e, 'initialise', dir);
  }
}
