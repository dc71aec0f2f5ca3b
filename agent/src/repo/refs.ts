/**
 * Refs: `refs/heads/<ref>` for local branches and
 * `refs/remotes/<remote>/<ref>` for what was pulled. A ref file holds a
 * checksum and a newline; it is replaced atomically (write, fsync, rename).
 */
import { closeSync, existsSync, fsyncSync, openSync, readdirSync, readFileSync, readlinkSync, lstatSync, renameSync, rmSync, writeSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { assertChecksum, isChecksum } from '../core/bytes';
import { CanopyError, ioError } from '../core/errors';
import { assertRef, assertRemoteName, parseRefspec } from '../core/names';
import type { Repo } from './repo';

/** One ref: `remote` is undefined for a local branch. */
export interface RefEntry {
  readonly remote?: string;
  readonly name: string;
  readonly checksum: string;
}

function refPath(repo: Repo, ref: string, remote?: string): string {
  assertRef(ref);
  return remote === undefined ? join(repo.path, 'refs/heads', ref) : join(repo.path, 'refs/remotes', assertRemoteName(remote), ref);
}

function readRefFile(p: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(p, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EISDIR' || code === 'ENOTDIR') return undefined;
    throw ioError(e, 'read ref', p);
  }
  const c = text.trim();
  if (!isChecksum(c)) throw new CanopyError('ERR_REPO_INVALID', `ref file ${p} does not hold a checksum`, { path: p });
  return c;
}

/** The checksum a ref points to, or undefined when there is no such ref. */
export function readRef(repo: Repo, ref: string, remote?: string): string | undefined {
  return readRefFile(refPath(repo, ref, remote));
}

/**
 * Points a ref at a commit, atomically and durably. With `checksum`
 * undefined the ref is deleted.
 */
export function writeRef(repo: Repo, ref: string, checksum: string | undefined, remote?: string): void {
  const p = refPath(repo, ref, remote);
  try {
    if (checksum === undefined) {
      rmSync(p, { force: true });
      return;
    }
    assertChecksum(checksum);
    mkdirSync(dirname(p), { recursive: true });
    const tmp = `${p}.tmp-${process.pid}`;
    const fd = openSync(tmp, 'w', 0o644);
    try {
      writeSync(fd, checksum + '\n');
      if (repo.fsyncEnabled) fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, p);
    if (repo.fsyncEnabled) fsyncDir(dirname(p));
  } catch (e) {
    throw ioError(e, checksum === undefined ? 'delete ref' : 'write ref', p);
  }
}

/** fsyncs a directory so a rename inside it survives a power cut. */
export function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Lists refs, local ones first, sorted by name. Aliases (symlinks) resolve to their target. */
export function listRefs(repo: Repo, opts: { remote?: string; all?: boolean } = {}): RefEntry[] {
  const out: RefEntry[] = [];
  const walk = (base: string, prefix: string, remote?: string): void => {
    let entries;
    try {
      entries = readdirSync(base, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      const p = join(base, e.name);
      const name = prefix ? `${prefix}/${e.name}` : e.name;
      if (e.isDirectory()) walk(p, name, remote);
      else if (!e.name.includes('.tmp-')) {
        const c = readRefFile(p);
        if (c) out.push({ remote, name, checksum: c });
      }
    }
  };
  if (opts.remote === undefined) walk(join(repo.path, 'refs/heads'), '');
  if (opts.all || opts.remote !== undefined) {
    const remotesDir = join(repo.path, 'refs/remotes');
    const remotes = existsSync(remotesDir) ? readdirSync(remotesDir).sort() : [];
    for (const r of remotes) if (opts.remote === undefined || opts.remote === r) walk(join(remotesDir, r), '', r);
  }
  return out;
}

/** True when the local ref is an alias (a symlink to another ref). */
export function refAliasTarget(repo: Repo, ref: string): string | undefined {
  const p = refPath(repo, ref);
  try {
    return lstatSync(p).isSymbolicLink() ? readlinkSync(p) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Resolves a revision to a commit checksum, as `ostree rev-parse` does:
 * a full checksum, a ref (`ref` or `remote:ref`; a plain name is looked up in
 * refs/heads, then among the remotes when unique), each `^` suffix taking
 * the parent. Throws ERR_REF_NOT_FOUND.
 */
export function resolveRev(repo: Repo, rev: string, loadParent: (c: string) => string | undefined): string {
  let base = rev;
  let ups = 0;
  while (base.endsWith('^')) {
    base = base.slice(0, -1);
    ups++;
  }
  let c: string | undefined;
  if (isChecksum(base)) c = base;
  else {
    const spec = parseRefspec(base);
    c = readRef(repo, spec.ref, spec.remote);
    if (c === undefined && spec.remote === undefined) {
      const matches = listRefs(repo, { all: true }).filter((r) => r.remote !== undefined && r.name === spec.ref);
      if (matches.length === 1) c = matches[0].checksum;
    }
  }
  if (c === undefined) throw new CanopyError('ERR_REF_NOT_FOUND', `no ref or commit named ${JSON.stringify(base)}`, { rev });
  for (let i = 0; i < ups; i++) {
    const p = loadParent(c);
    if (p === undefined) throw new CanopyError('ERR_REF_NOT_FOUND', `${rev}: commit ${c} has no parent`, { rev, commit: c });
    c = p;
  }
  return c;
}
