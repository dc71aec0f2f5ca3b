/**
 * Shared set-up for the pull suites: a served archive repository with two
 * commits of a small tree (v1, and v2 changing some files), a summary, and
 * helpers to make clients and check their state.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { strict as assert } from 'node:assert';
import { ObjectType, serializeSummary, summaryRefMetadata, type RepoMode } from '../../../agent/src/objects/index';
import { commitTree, listRefs, readRef, Repo } from '../../../agent/src/repo/index';
import { fsck } from '../../../agent/src/repo/fsck';
import { addRemote, type AddRemoteOptions } from '../../../agent/src/repo/remotes';

export interface ServedRepo {
  dir: string;
  path: string;
  repo: Repo;
  v1: string;
  v2: string;
}

/** Deterministic bytes: half compressible, half not. */
export function bytes(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  let x = Math.imul(seed, 2654435761) >>> 0;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    b[i] = i % 64 < 32 ? 97 + (i % 26) : x >>> 24;
  }
  return b;
}

/** A tree of `files` files in a few directories, one of them larger than 1 MiB. */
export function writeTree(root: string, files: number, seed: number, changed = 0): void {
  mkdirSync(root, { recursive: true });
  for (const d of ['etc', 'usr/bin', 'usr/lib/deep/er', 'var/empty']) mkdirSync(join(root, d), { recursive: true });
  writeFileSync(join(root, 'etc/os-release'), `ID=canopy\nVERSION=${seed}\n`);
  writeFileSync(join(root, 'usr/lib/big.bin'), bytes(1_200_000, seed));
  writeFileSync(join(root, 'usr/bin/empty'), '');
  symlinkSync('../lib/big.bin', join(root, 'usr/bin/link'));
  for (let i = 0; i < files; i++) {
    const dir = ['etc', 'usr/bin', 'usr/lib', 'usr/lib/deep/er'][i % 4];
    writeFileSync(join(root, dir, `f${i}`), bytes(100 + ((i * 997) % 20000), i < changed ? seed * 1000 + i : i), { mode: i % 5 === 0 ? 0o755 : 0o644 });
  }
}

export const T1 = 1_700_000_000;
export const T2 = 1_700_100_000;

/** An archive repository with `main` at v1 then v2 (v2 changes `changed` files), and a summary. */
export async function makeServedRepo(opts: { files?: number; changed?: number } = {}): Promise<ServedRepo> {
  const dir = mkdtempSync(join(tmpdir(), 'canopy-pull-'));
  const path = join(dir, 'server');
  const repo = Repo.init(path, { mode: 'archive' });
  writeTree(join(dir, 't1'), opts.files ?? 40, 1);
  writeTree(join(dir, 't2'), opts.files ?? 40, 2, opts.changed ?? 10);
  const v1 = (await commitTree(repo, join(dir, 't1'), { branch: 'main', subject: 'v1', timestamp: T1, canonicalPermissions: true })).checksum;
  const v2 = (await commitTree(repo, join(dir, 't2'), { branch: 'main', subject: 'v2', timestamp: T2, canonicalPermissions: true })).checksum;
  writeSummary(repo);
  return { dir, path, repo, v1, v2 };
}

/** Writes `summary` listing the repository's local refs (no signature). */
export function writeSummary(repo: Repo): Buffer {
  const refs = listRefs(repo).map((r) => {
    const c = repo.loadCommit(r.checksum);
    return { name: r.name, commit: r.checksum, commitSize: repo.readMetadataBytes(ObjectType.COMMIT, r.checksum).length, metadata: summaryRefMetadata(c.timestamp) };
  });
  const bytes = serializeSummary({ refs, metadata: [] });
  writeFileSync(join(repo.path, 'summary'), bytes);
  return bytes;
}

let clients = 0;

/** A fresh client repository with remote `origin` at `url` (verification off unless `remote` says otherwise). */
export function makeClient(dir: string, url: string, mode: RepoMode = 'bare-user-only', remote: AddRemoteOptions = { noGpgVerify: true }): Repo {
  const repo = Repo.init(join(dir, `client${clients++}`), { mode });
  addRemote(repo, 'origin', url, remote);
  return repo;
}

/** Asserts the repository passes fsck and holds no staging or partial leftovers beyond what is expected. */
export async function assertHealthy(repo: Repo, opts: { partial?: string[] } = {}): Promise<void> {
  const report = await fsck(repo);
  assert.equal(report.corrupt.length, 0, `corrupt: ${JSON.stringify(report.corrupt)}`);
  assert.equal(report.missing.length, 0, `missing: ${JSON.stringify(report.missing.slice(0, 3))}`);
  assert.equal(report.brokenRefs.length, 0, `broken refs: ${JSON.stringify(report.brokenRefs)}`);
  assert.deepEqual(report.partialCommits.map((p) => p.checksum).sort(), [...(opts.partial ?? [])].sort(), 'partial commits');
  const tmp = readdirSync(join(repo.path, 'tmp')).filter((n) => n.startsWith('staging-'));
  assert.deepEqual(tmp, [], 'no staging directory is left behind');
}

/** The remote ref of `origin`, or undefined. */
export function originRef(repo: Repo, ref = 'main'): string | undefined {
  return readRef(repo, ref, 'origin');
}

export function cleanup(dir: string | undefined): void {
  if (dir && existsSync(dir)) rmSync(dir, { recursive: true, force: true });
}
