/**
 * Runs the built `dist/canopy.cjs` as a child process, the way operators
 * and the Yocto class run it. Builds the bundle first when it is missing or
 * older than the sources (npm test builds it anyway).
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const CLI = join(ROOT, 'dist/canopy.cjs');

function newestSource(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestSource(p) : statSync(p).mtimeMs);
  }
  return newest;
}

let built = false;

/** Builds dist/ unless it is newer than every file under agent/src. */
export function ensureBuilt(): void {
  if (built) return;
  const fresh = existsSync(CLI) && statSync(CLI).mtimeMs >= newestSource(join(ROOT, 'agent/src'));
  if (!fresh) {
    const r = spawnSync(process.execPath, [join(ROOT, 'agent/build.mjs')], { cwd: ROOT, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`build failed: ${r.stderr}`);
  }
  built = true;
}

export interface CliRun {
  status: number;
  stdout: string;
  stderr: string;
  /** stdout parsed as JSON (throws when it is not). */
  json<T = any>(): T;
}

export interface RunOptions {
  cwd?: string;
  env?: Record<string, string | undefined>;
}

/** Runs `canopy ARGS…`. OSTREE_REPO is cleared unless given in `env`. */
export function canopy(args: string[], opts: RunOptions = {}): CliRun {
  ensureBuilt();
  const env: Record<string, string | undefined> = { ...process.env, OSTREE_REPO: undefined, ...opts.env };
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: opts.cwd ?? ROOT, env: env as NodeJS.ProcessEnv, encoding: 'utf8' });
  return wrap(r);
}

function wrap(r: SpawnSyncReturns<string>): CliRun {
  if (r.error) throw r.error;
  return {
    status: r.status ?? -1,
    stdout: r.stdout,
    stderr: r.stderr,
    json() {
      try {
        return JSON.parse(r.stdout);
      } catch {
        throw new Error(`stdout is not JSON (status ${r.status}):\n${r.stdout}\nstderr:\n${r.stderr}`);
      }
    },
  };
}

/** Runs a command and fails the test (with its output) unless it exits 0. */
export function ok(run: CliRun, what = 'command'): CliRun {
  if (run.status !== 0) throw new Error(`${what} exited ${run.status}\nstdout:\n${run.stdout}\nstderr:\n${run.stderr}`);
  return run;
}

/** Runs the real ostree. */
export function ostree(args: string[], opts: RunOptions = {}): CliRun {
  const r = spawnSync('ostree', args, { cwd: opts.cwd, env: { ...process.env, ...opts.env } as NodeJS.ProcessEnv, encoding: 'utf8' });
  return wrap(r);
}

export const hasOstree = (): boolean => spawnSync('ostree', ['--version']).status === 0;
export const hasSetfattr = (): boolean => spawnSync('setfattr', ['--version']).status === 0;
export const isRoot = (): boolean => process.getuid?.() === 0;

/** A fresh temporary directory, removed by {@link cleanup}. */
const made: string[] = [];
export function tempDir(prefix = 'canopy-cli-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  made.push(d);
  return d;
}

export function cleanup(): void {
  for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
}

/**
 * A small tree with what a commit must get right: nested directories, an
 * executable, an empty file, a symlink, and (when setfattr works here) a
 * user xattr. Returns the tree's path.
 */
export function makeTree(parent: string, withXattr = hasSetfattr()): string {
  const t = join(parent, 'tree');
  mkdirSync(join(t, 'usr/bin'), { recursive: true });
  mkdirSync(join(t, 'etc'), { recursive: true });
  writeFileSync(join(t, 'hello.txt'), 'hello\n');
  writeFileSync(join(t, 'etc/os-release'), 'NAME=Canopy\nVERSION_ID=1\n');
  writeFileSync(join(t, 'usr/bin/tool'), '#!/bin/sh\necho tool\n');
  chmodSync(join(t, 'usr/bin/tool'), 0o755);
  writeFileSync(join(t, 'empty'), '');
  symlinkSync('hello.txt', join(t, 'link'));
  chmodSync(t, 0o755);
  if (withXattr) spawnSync('setfattr', ['-n', 'user.canopy', '-v', 'yes', join(t, 'hello.txt')]);
  return t;
}

/** `canopy init` a repository of `mode` under `parent`; returns its path. */
export function initRepo(parent: string, mode = 'archive', name = 'repo'): string {
  const repo = join(parent, name);
  ok(canopy(['init', `--repo=${repo}`, `--mode=${mode}`]), 'canopy init');
  return repo;
}

/** `canopy commit --json` with fixed time and subject; returns the parsed result. */
export function commitJson(repo: string, tree: string, args: string[] = []): { checksum: string; parent: string | null; [k: string]: unknown } {
  return ok(canopy(['commit', `--repo=${repo}`, '--json', '--timestamp=@1700000000', '-s', 'subject', ...args, tree]), 'canopy commit').json();
}
