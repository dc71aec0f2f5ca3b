/**
 * Small repositories for the walk, fsck, prune and summary tests: a tree
 * with regular files, an executable, an empty file, a symlink and nested
 * directories, committed with commitTree.
 */
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { commitTree, type CommitOptions } from '../../../agent/src/repo/commit-tree';
import { Repo } from '../../../agent/src/repo/repo';
import { ObjectType, parseDirTree, type RepoMode } from '../../../agent/src/objects/index';

export const isRoot = process.getuid?.() === 0;

export function hasTool(cmd: string): boolean {
  const r = spawnSync(cmd, ['--version']);
  return !r.error;
}

/** A scratch directory removed by the returned cleanup. */
export function scratch(prefix = 'canopy-maint-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Writes a tree. Files under `shared/` are identical in every variant;
 * `unique-<variant>` and `sub/deep/v` differ, so two variants share some
 * objects and not others.
 */
export function writeTree(dir: string, variant: number): void {
  mkdirSync(join(dir, 'sub/deep'), { recursive: true });
  mkdirSync(join(dir, 'shared/more'), { recursive: true });
  writeFileSync(join(dir, 'shared/common.txt'), 'the same in every version\n');
  writeFileSync(join(dir, 'shared/more/big.bin'), Buffer.alloc(300_000, 0x5a));
  writeFileSync(join(dir, `unique-${variant}.txt`), `only in version ${variant}\n`);
  writeFileSync(join(dir, 'sub/deep/v'), `version ${variant}\n`);
  writeFileSync(join(dir, 'sub/empty'), '');
  writeFileSync(join(dir, 'tool'), '#!/bin/sh\necho tool\n');
  chmodSync(join(dir, 'tool'), 0o755);
  symlinkSync('shared/common.txt', join(dir, 'link'));
}

export interface Fixture {
  dir: string;
  repo: Repo;
  cleanup: () => void;
  /** Commits a fresh tree of `variant` on `branch` (default main); `prepare` may change the tree first. */
  commit(variant: number, opts?: CommitOptions, prepare?: (tree: string) => void): Promise<string>;
}

export async function makeRepo(mode: RepoMode): Promise<Fixture> {
  const { dir, cleanup } = scratch();
  const repo = Repo.init(join(dir, 'repo'), { mode });
  // Durability is not under test here; syncing a busy disk only slows the suite.
  repo.config.set('core', 'fsync', 'false');
  repo.saveConfig();
  let n = 0;
  return {
    dir,
    repo,
    cleanup,
    async commit(variant, opts = {}, prepare) {
      const tree = join(dir, `tree-${n++}`);
      writeTree(tree, variant);
      prepare?.(tree);
      const r = await commitTree(repo, tree, { branch: 'main', subject: `v${variant}`, timestamp: 1_700_000_000 + variant, ...opts });
      rmSync(tree, { recursive: true, force: true });
      return r.checksum;
    },
  };
}

/** Absolute path of an object. */
export const objPath = (repo: Repo, checksum: string, type: ObjectType): string => repo.objectPath(checksum, type);

/** The checksum of the file object named `name` in the root dirtree of `commit`. */
export function rootFile(repo: Repo, commit: string, name: string): string {
  const c = repo.loadCommit(commit);
  const f = parseDirTree(readFileSync(repo.objectPath(c.rootTree, ObjectType.DIR_TREE))).files.find((x) => x.name === name);
  if (!f) throw new Error(`no ${name} in the root of ${commit}`);
  return f.checksum;
}

/** Flips one byte of a file in place (at `at`, negative counts from the end). */
export function flipByte(path: string, at: number): void {
  const b = readFileSync(path);
  const i = at < 0 ? b.length + at : at;
  b[i] ^= 0xff;
  writeFileSync(path, b);
}

/** Sorted relative paths of every loose object. */
export function objectNames(repo: Repo): string[] {
  const r = spawnSync('find', ['objects', '-type', 'f', '-o', '-type', 'l'], { cwd: repo.path, encoding: 'utf8' });
  return r.stdout.trim().split('\n').filter(Boolean).sort();
}
