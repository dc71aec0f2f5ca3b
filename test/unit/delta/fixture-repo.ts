/**
 * A real OSTree archive repository with two commits and static deltas made
 * by the `ostree` tool, built once per test process in a temp dir.
 *
 * Tree A -> B exercises every opcode: a binary with scattered changes
 * (bsdiff), a file grown at the end (rollsum), a changed small file, new
 * symlinks, an empty file, several modes and a file with xattrs.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface DeltaFixture {
  dir: string;
  repo: string;
  a: string;
  b: string;
  /**
   * Superblocks written with --filename (their parts sit beside them):
   * scratch to B with inline parts, A->B with swapped endianness, A->B with
   * fallback objects. A->B and scratch-to-A use the standard paths.
   */
  superblocks: { inlineB: string; swapped: string; withFallback: string };
  xattrs: boolean;
}

let cached: DeltaFixture | null | undefined;

function run(cmd: string, args: string[], cwd?: string): string {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout.trim();
}

export function haveTool(name: string): boolean {
  return spawnSync(name, ['--version'], { encoding: 'utf8' }).status === 0;
}

function trySetXattr(path: string, name: string, value: string): boolean {
  return spawnSync('setfattr', ['-n', name, '-v', value, path]).status === 0;
}

/** Builds (once) and returns the fixture, or null when `ostree` is missing. */
export function deltaFixture(): DeltaFixture | null {
  if (cached !== undefined) return cached;
  if (!haveTool('ostree')) return (cached = null);
  const dir = mkdtempSync(join(tmpdir(), 'canopy-delta-'));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  const repo = join(dir, 'repo');
  run('ostree', [`--repo=${repo}`, 'init', '--mode=archive']);

  const A = join(dir, 'A');
  mkdirSync(join(A, 'bin'), { recursive: true });
  mkdirSync(join(A, 'data'), { recursive: true });
  mkdirSync(join(A, 'etc'), { recursive: true });
  const app = randomBytes(300_000);
  const big = randomBytes(1_000_000);
  writeFileSync(join(A, 'bin', 'app.bin'), app);
  chmodSync(join(A, 'bin', 'app.bin'), 0o755);
  writeFileSync(join(A, 'data', 'big.dat'), big);
  writeFileSync(join(A, 'hello.txt'), 'hello\n');
  writeFileSync(join(A, 'empty'), '');
  writeFileSync(join(A, 'etc', 'secret'), 'top secret\n');
  chmodSync(join(A, 'etc', 'secret'), 0o600);
  writeFileSync(join(A, 'etc', 'tagged'), 'tagged file\n');
  const xattrs = spawnSync('setfattr', ['--version']).status === 0 && trySetXattr(join(A, 'etc', 'tagged'), 'user.canopy', 'v1');
  symlinkSync('hello.txt', join(A, 'link'));
  const a = run('ostree', [`--repo=${repo}`, 'commit', '-b', 'test/main', '--subject=A', '--timestamp=2023-02-01 00:00:00 +0000', `--tree=dir=${A}`]);

  const B = join(dir, 'B');
  run('cp', ['-a', A, B]);
  const app2 = Buffer.from(app);
  for (let i = 0; i < app2.length; i += 1000) app2[i] ^= 0xff;
  writeFileSync(join(B, 'bin', 'app.bin'), app2);
  writeFileSync(join(B, 'data', 'big.dat'), Buffer.concat([big, randomBytes(5000)]));
  writeFileSync(join(B, 'hello.txt'), 'hello, world\n');
  writeFileSync(join(B, 'etc', 'new.conf'), 'key=value\n'.repeat(50));
  writeFileSync(join(B, 'data', 'blob.bin'), randomBytes(1_200_000));
  if (xattrs) trySetXattr(join(B, 'etc', 'new.conf'), 'user.canopy', 'v2');
  symlinkSync('data/big.dat', join(B, 'link2'));
  symlinkSync('../hello.txt', join(B, 'etc', 'hello-link'));
  const b = run('ostree', [`--repo=${repo}`, 'commit', '-b', 'test/main', '--subject=B', '--timestamp=2023-03-01 00:00:00 +0000', '--add-metadata-string=version=2.0', `--tree=dir=${B}`]);

  const gen = (args: string[]): void => void run('ostree', [`--repo=${repo}`, 'static-delta', 'generate', ...args]);
  gen([`--from=${a}`, `--to=${b}`]);
  gen(['--empty', `--to=${a}`]);
  const inlineB = join(dir, 'inline-b', 'superblock');
  mkdirSync(join(dir, 'inline-b'));
  gen(['--empty', `--to=${b}`, '--inline', `--filename=${inlineB}`]);
  const swapped = join(dir, 'swapped', 'superblock');
  mkdirSync(join(dir, 'swapped'));
  gen([`--from=${a}`, `--to=${b}`, '--swap-endianness', `--filename=${swapped}`]);
  const withFallback = join(dir, 'fallback', 'superblock');
  mkdirSync(join(dir, 'fallback'));
  gen([`--from=${a}`, `--to=${b}`, '--min-fallback-size=1', `--filename=${withFallback}`]);

  cached = { dir, repo, a, b, xattrs, superblocks: { inlineB, swapped, withFallback } };
  return cached;
}

/** Reads a file of the fixture repo by its relative path. */
export function repoFile(f: DeltaFixture, rel: string): Buffer {
  return readFileSync(join(f.repo, rel));
}
