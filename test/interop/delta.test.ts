/**
 * Static deltas against the real ostree (2022.7 in CI), both directions:
 *
 * - deltas `ostree static-delta generate` makes (defaults, --empty, --inline,
 *   swapped endianness, with fallbacks) applied by Canopy into
 *   bare-user-only and (as root) bare repositories;
 * - deltas Canopy makes applied by `ostree static-delta apply-offline`, and
 *   pulled by `ostree pull` from a repository served over HTTP.
 *
 * Every result passes `ostree fsck` and checks out identical to the
 * target commit checked out from the server's repository.
 */
import { strict as assert } from 'node:assert';
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Repo } from '../../agent/src/repo/repo';
import { generateSummary } from '../../agent/src/repo/summary-writer';
import { applyStaticDeltaOffline, deltaDir, deltaSuperblockPath, type OfflineApplyResult } from '../../agent/src/delta/index';
import { generateDelta } from '../../agent/src/delta/generate';
import { serveDirectory } from '../helpers/http-server';
import { pseudoRandomBytes } from '../helpers/nasty-tree';
import { assertTreesEqual, type CompareOptions } from '../helpers/tree-compare';
import { deltaFixture } from '../unit/delta/fixture-repo';
import { haveXz, isRoot, writeTreeA, writeTreeB } from '../unit/delta/delta-trees';

const haveOstree = spawnSync('ostree', ['--version']).status === 0;

function ostree(repo: string, ...args: string[]): string {
  const r = spawnSync('ostree', [`--repo=${repo}`, ...args], { encoding: 'utf8', maxBuffer: 1 << 26 });
  assert.equal(r.status, 0, `ostree ${args.join(' ')}: ${r.stdout}${r.stderr}`);
  return r.stdout.trim();
}

/** ostree run without blocking the event loop (the HTTP server answering it runs in this process). */
function ostreeAsync(repo: string, ...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('ostree', [`--repo=${repo}`, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`ostree ${args.join(' ')} exited ${code}: ${out}`))));
  });
}

describe('interop: static deltas with ostree', function () {
  let dir: string;
  let n = 0;
  before(function () {
    if (!haveOstree || !haveXz()) {
      console.log('    (ostree or xz not installed: skipping; install the Debian packages ostree and xz-utils)');
      this.skip();
    }
    dir = mkdtempSync(join(tmpdir(), 'canopy-delta-interop-'));
  });
  after(() => dir && rmSync(dir, { recursive: true, force: true }));

  /** A new client repository of `mode`, holding `commit` (pulled from `server` with ostree) unless null. */
  function client(mode: 'bare' | 'bare-user-only', server: string, commit: string | null): string {
    const path = join(dir, `client-${n++}`);
    ostree(path, 'init', `--mode=${mode}`);
    if (commit) ostree(path, 'pull-local', server, commit);
    return path;
  }

  /** ostree fsck passes, and `commit` checks out as it does from the server. */
  function checkResult(server: string, path: string, commit: string, opts: CompareOptions, userMode: boolean): void {
    const fsck = ostree(path, 'fsck');
    assert.match(fsck, /no errors found/);
    const a = join(dir, `co-${n++}`);
    const b = join(dir, `co-${n++}`);
    const u = userMode ? ['-U'] : [];
    ostree(server, 'checkout', ...u, commit, a);
    ostree(path, 'checkout', ...u, commit, b);
    assertTreesEqual(a, b, opts);
  }

  describe('bare-user-only (canonical permissions)', function () {
    let srv: string;
    let a: string;
    let b: string;
    const od = (name: string): string => join(dir, 'ostree-deltas', name);
    const cmp: CompareOptions = { owner: false, xattrs: false, modeMask: 0o755, ignoreRoot: true };

    before(function () {
      srv = join(dir, 'canonical');
      ostree(srv, 'init', '--mode=archive');
      const ta = join(dir, 'ta');
      const tb = join(dir, 'tb');
      writeTreeA(ta);
      writeTreeB(tb);
      writeFileSync(join(tb, 'share/huge.bin'), pseudoRandomBytes(1_200_000, 99));
      const c = ['commit', '--canonical-permissions', '--no-xattrs', '-b', 'os/main'];
      a = ostree(srv, ...c, '-s', 'A', '--timestamp=2024-01-01 00:00:00 +0000', `--tree=dir=${ta}`);
      b = ostree(srv, ...c, '-s', 'B', '--timestamp=2024-02-01 00:00:00 +0000', `--tree=dir=${tb}`);
      const gen = (name: string, ...args: string[]): void => {
        mkdirSync(od(name), { recursive: true });
        ostree(srv, 'static-delta', 'generate', ...args, `--filename=${join(od(name), 'superblock')}`);
      };
      gen('default', `--from=${a}`, `--to=${b}`);
      gen('empty', '--empty', `--to=${b}`);
      gen('inline', `--from=${a}`, `--to=${b}`, '--inline');
      gen('fallback', `--from=${a}`, `--to=${b}`, '--min-fallback-size=1');
    });

    async function canopyApply(path: string, deltaPath: string, opts: { allowMissingFallbacks?: boolean } = {}): Promise<OfflineApplyResult> {
      return applyStaticDeltaOffline(Repo.open(path), deltaPath, { expectedTo: b, ...opts });
    }

    it('ostree\'s default, --empty and --inline deltas apply with canopy', async function () {
      for (const [name, from] of [['default', a], ['empty', null], ['inline', a]] as const) {
        const path = client('bare-user-only', srv, from);
        const r = await canopyApply(path, od(name));
        assert.equal(r.complete, true, name);
        checkResult(srv, path, b, cmp, true);
      }
    });

    it('ostree\'s delta with fallbacks: canopy applies the parts, ostree pulls the fallback, fsck passes', async function () {
      const path = client('bare-user-only', srv, a);
      const r = await canopyApply(path, od('fallback'), { allowMissingFallbacks: true });
      assert.ok(r.missingFallbacks.length >= 1);
      assert.equal(r.complete, false);
      ostree(path, 'pull-local', srv, b);
      checkResult(srv, path, b, cmp, true);
    });

    it('canopy\'s delta (x86 filter, bsdiff, rollsum) applies with ostree static-delta apply-offline', async function () {
      const out = join(dir, 'canopy-offline');
      const g = await generateDelta(Repo.open(srv), { from: a, to: b, outputDir: out, minFallbackSize: 0 });
      assert.ok(g.counts.x86 >= 1 && g.counts.bsdiff >= 1 && g.counts.rollsum >= 1, JSON.stringify(g.counts));
      const path = client('bare-user-only', srv, a);
      ostree(path, 'static-delta', 'apply-offline', join(out, 'superblock'));
      checkResult(srv, path, b, cmp, true);
    });

    it('canopy\'s delta is what `ostree pull` fetches from a served repository', async function () {
      const served = join(dir, 'served');
      cpSync(srv, served, { recursive: true });
      const repo = Repo.open(served);
      const g = await generateDelta(repo, { from: a, to: b, minFallbackSize: 0 });
      assert.equal(g.dir, join(served, deltaDir(a, b)));
      generateSummary(repo);
      const server = await serveDirectory(served);
      try {
        const path = client('bare-user-only', served, a);
        ostree(path, 'remote', 'add', '--no-gpg-verify', 'origin', server.url);
        await ostreeAsync(path, 'pull', '--require-static-deltas', 'origin', 'os/main');
        const paths = server.requests().map((r) => r.path);
        assert.ok(paths.includes(`/${deltaSuperblockPath(a, b)}`), `the superblock was fetched: ${paths.filter((p) => !p.startsWith('/objects')).join(' ')}`);
        assert.ok(paths.includes(`/${deltaDir(a, b)}/0`), 'the parts were fetched');
        assert.equal(ostree(path, 'rev-parse', 'origin:os/main'), b);
        checkResult(served, path, b, cmp, true);
      } finally {
        await server.close();
      }
    });
  });

  describe('bare, as root (owners, modes, xattrs)', function () {
    const cmp: CompareOptions = { ignoreRoot: true };
    before(function () {
      if (!isRoot) {
        console.log('    (not root: skipping bare repositories)');
        this.skip();
      }
    });

    it('ostree\'s deltas (default, --empty, swapped endianness, --inline, fallbacks) apply with canopy', async function () {
      const f = deltaFixture()!;
      const cases: Array<{ path: string; from: string | null; to: string; fallback?: boolean }> = [
        { path: join(f.repo, deltaDir(f.a, f.b)), from: f.a, to: f.b },
        { path: join(f.repo, deltaDir(null, f.a)), from: null, to: f.a },
        { path: f.superblocks.swapped, from: f.a, to: f.b },
        { path: f.superblocks.inlineB, from: null, to: f.b },
        { path: f.superblocks.withFallback, from: f.a, to: f.b, fallback: true },
      ];
      for (const c of cases) {
        const path = client('bare', f.repo, c.from);
        const r = await applyStaticDeltaOffline(Repo.open(path), c.path, { expectedTo: c.to, allowMissingFallbacks: c.fallback });
        if (c.fallback) {
          assert.ok(r.missingFallbacks.length > 0);
          ostree(path, 'pull-local', f.repo, c.to);
        } else {
          assert.equal(r.complete, true, c.path);
        }
        checkResult(f.repo, path, c.to, { ...cmp, xattrs: f.xattrs }, false);
      }
    });

    it('canopy\'s delta of a tree with owners and xattrs applies with ostree static-delta apply-offline', async function () {
      const f = deltaFixture()!;
      const out = join(dir, 'canopy-bare');
      await generateDelta(Repo.open(f.repo), { from: f.a, to: f.b, outputDir: out, minFallbackSize: 0 });
      const path = client('bare', f.repo, f.a);
      ostree(path, 'static-delta', 'apply-offline', join(out, 'superblock'));
      checkResult(f.repo, path, f.b, { ...cmp, xattrs: f.xattrs }, false);
    });
  });
});
