/**
 * fsck, prune and summary against the real ostree (2022.7 in CI): each
 * tool accepts the other's repositories, both find the same corruption,
 * the summaries read both ways (byte-identical without deltas), and both
 * prunes leave the same objects.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dictLookup, parse, variant, type VarDict } from '../../agent/src/gvariant/index';
import { ObjectType, bswap64, parseDirTree, parseSummary, summaryLookup, type RepoMode } from '../../agent/src/objects/index';
import { fsck } from '../../agent/src/repo/fsck';
import { prune } from '../../agent/src/repo/prune';
import { Repo } from '../../agent/src/repo/repo';
import { buildSummary, deltaIndexRelPath, generateSummary } from '../../agent/src/repo/summary-writer';
import { flipByte, hasTool, isRoot, makeRepo, objectNames, scratch } from '../unit/repo/maintenance-fixture';

const haveOstree = spawnSync('ostree', ['--version']).status === 0;
const canBare = isRoot && hasTool('getfattr') && hasTool('setfattr');

function ostree(repo: string, ...args: string[]): { status: number | null; out: string } {
  const r = spawnSync('ostree', [`--repo=${repo}`, ...args], { encoding: 'utf8' });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

function ok(repo: string, ...args: string[]): string {
  const r = ostree(repo, ...args);
  assert.equal(r.status, 0, `ostree ${args.join(' ')}: ${r.out}`);
  return r.out;
}

/** A tree with the kinds of entries that matter; in bare mode also an xattr. */
function ostreeTree(dir: string, variantN: number, xattr: boolean): void {
  mkdirSync(join(dir, 'etc/deep'), { recursive: true });
  writeFileSync(join(dir, 'etc/common'), 'same\n');
  writeFileSync(join(dir, 'etc/deep/v'), `v${variantN}\n`);
  writeFileSync(join(dir, `only-${variantN}`), Buffer.alloc(20_000 + variantN, variantN));
  writeFileSync(join(dir, 'empty'), '');
  writeFileSync(join(dir, 'run'), '#!/bin/sh\n');
  chmodSync(join(dir, 'run'), 0o755);
  symlinkSync('etc/common', join(dir, 'link'));
  if (xattr) assert.equal(spawnSync('setfattr', ['-n', 'user.canopy', '-v', 'yes', join(dir, 'etc/common')]).status, 0);
}

/** An ostree-written repository with `n` commits on main. */
function ostreeRepo(base: string, mode: RepoMode, n: number): { path: string; commits: string[] } {
  const path = join(base, `ostree-${mode}`);
  ok(path, 'init', `--mode=${mode}`);
  const commits: string[] = [];
  for (let i = 1; i <= n; i++) {
    const t = join(base, `t-${mode}-${i}`);
    ostreeTree(t, i, mode === 'bare');
    ok(path, 'commit', '--fsync=false', '-b', 'main', '-s', `c${i}`, `--timestamp=2024-01-0${i}`, `--add-metadata-string=version=${i}.0`, `--tree=dir=${t}`);
    commits.push(ok(path, 'rev-parse', 'main').trim());
    rmSync(t, { recursive: true, force: true });
  }
  return { path, commits };
}

/** The checksum of a root-level file of `commit`. */
function fileOf(repo: Repo, commit: string, name: string): string {
  const root = repo.loadCommit(commit).rootTree;
  return parseDirTree(readFileSync(repo.objectPath(root, ObjectType.DIR_TREE))).files.find((f) => f.name === name)!.checksum;
}

describe('interop: fsck, prune and summary against ostree', function () {
  before(function () {
    if (!haveOstree) {
      console.log('    (skipped: the ostree command is not installed; Debian package "ostree")');
      this.skip();
    }
  });

  for (const mode of ['archive', 'bare-user-only', 'bare'] as RepoMode[]) {
    describe(`fsck, ${mode}`, function () {
      let s: ReturnType<typeof scratch>;
      before(function () {
        if (mode === 'bare' && !canBare) {
          console.log('    (skipped: bare repositories need root and getfattr/setfattr)');
          this.skip();
        }
      });
      beforeEach(() => { s = scratch(); });
      afterEach(() => s.cleanup());

      it('ostree fsck passes on a repository Canopy wrote', async () => {
        const fx = await makeRepo(mode);
        try {
          await fx.commit(1, {}, (t) => { if (mode === 'bare') spawnSync('setfattr', ['-n', 'user.x', '-v', '1', join(t, 'tool')]); });
          await fx.commit(2);
          const out = ok(fx.repo.path, 'fsck');
          assert.match(out, /object fsck of 2 commits completed successfully/);
          assert.equal((await fsck(fx.repo)).ok, true);
        } finally {
          fx.cleanup();
        }
      });

      it("Canopy's fsck passes on a repository ostree wrote, and both find the same corrupt object", async () => {
        const { path, commits } = ostreeRepo(s.dir, mode, 2);
        const repo = Repo.open(path);
        const clean = await fsck(repo);
        assert.deepEqual([clean.ok, clean.commits, clean.corrupt, clean.missing], [true, 2, [], []]);
        const victim = fileOf(repo, commits[1], 'only-2');
        flipByte(repo.objectPath(victim, ObjectType.FILE), -4);
        const theirs = ostree(path, 'fsck', '--all');
        assert.notEqual(theirs.status, 0);
        assert.ok(theirs.out.includes(victim), theirs.out);
        const ours = await fsck(repo);
        assert.equal(ours.ok, false);
        assert.deepEqual(ours.corrupt.map((c) => c.checksum), [victim]);
      });

      it('both report the same missing object, and read the partial mark ostree leaves', async () => {
        const { path, commits } = ostreeRepo(s.dir, mode, 1);
        const repo = Repo.open(path);
        const victim = fileOf(repo, commits[0], 'run');
        rmSync(repo.objectPath(victim, ObjectType.FILE));
        const ours = await fsck(repo);
        assert.deepEqual(ours.missing.map((m) => m.checksum), [victim]);
        // ostree fsck reports it too, and (unlike ours) marks the commit partial with reason 'f'.
        const theirs = ostree(path, 'fsck', '--all');
        assert.notEqual(theirs.status, 0);
        assert.match(theirs.out, new RegExp(`Object missing.*${victim}\\.file`));
        assert.match(theirs.out, new RegExp(`Marking commit as partial: ${commits[0]}`));
        const after = await fsck(repo);
        assert.deepEqual(after.partialCommits, [{ checksum: commits[0], byFsck: true }]);
        assert.deepEqual(after.missing, []);
        assert.equal(after.ok, false);
      });
    });
  }

  describe('summary', () => {
    let s: ReturnType<typeof scratch>;
    beforeEach(() => { s = scratch(); });
    afterEach(() => s.cleanup());

    it('ostree summary --view reads what Canopy wrote', async () => {
      const fx = await makeRepo('archive');
      try {
        const c1 = await fx.commit(1, { branch: 'os/stable', metadata: [['version', variant('s', '4.2')]] });
        const c2 = await fx.commit(2, { branch: 'os/dev' });
        generateSummary(fx.repo, { metadata: [['canopy.note', variant('s', 'hello')]], expires: 1_900_000_000 });
        const out = ok(fx.repo.path, 'summary', '--view');
        const size = (c: string): number => readFileSync(fx.repo.objectPath(c, ObjectType.COMMIT)).length;
        assert.match(out, new RegExp(`\\* os/dev\\n\\s+Latest Commit \\(${size(c2)} bytes\\):\\n\\s+${c2}`));
        assert.match(out, new RegExp(`\\* os/stable\\n\\s+Latest Commit \\(${size(c1)} bytes\\):\\n\\s+${c1}\\n\\s+Version \\(ostree.commit.version\\): 4.2`));
        assert.ok(out.indexOf('* os/dev') < out.indexOf('* os/stable'), 'sorted');
        assert.match(out, /Repository Mode \(ostree.summary.mode\): archive-z2/);
        assert.match(out, /Last-Modified \(ostree.summary.last-modified\): \d{4}-/);
        assert.match(out, /ostree.summary.indexed-deltas: true/);
        assert.match(out, /canopy.note: 'hello'/);
        assert.match(out, /Expires \(ostree.summary.expires\): 2030-/);
      } finally {
        fx.cleanup();
      }
    });

    it("parseSummary reads ostree summary -u's output, and Canopy writes the same bytes", () => {
      const { path, commits } = ostreeRepo(s.dir, 'archive', 2);
      ok(path, 'refs', '--create=other/x', commits[0]);
      ok(path, 'summary', '-u');
      const theirs = readFileSync(join(path, 'summary'));
      const parsed = parseSummary(theirs);
      assert.deepEqual(parsed.refs.map((r) => [r.name, r.commit]), [['main', commits[1]], ['other/x', commits[0]]]);
      const repo = Repo.open(path);
      for (const r of parsed.refs) assert.equal(r.commitSize, readFileSync(repo.objectPath(r.commit, ObjectType.COMMIT)).length);
      const now = Number(bswap64(summaryLookup(parsed, 'ostree.summary.last-modified')!.value as bigint));
      const ours = buildSummary(repo, { now });
      assert.equal(ours.refs, 2);
      assert.equal(ours.bytes.toString('hex'), theirs.toString('hex'));
    });

    it('lists static deltas and writes delta indexes with the same content as ostree', () => {
      const { path, commits } = ostreeRepo(s.dir, 'archive', 2);
      ok(path, 'static-delta', 'generate', '--empty', `--to=${commits[1]}`);
      ok(path, 'static-delta', 'generate', `--from=${commits[0]}`, `--to=${commits[1]}`);
      ok(path, 'summary', '-u');
      const theirs = parseSummary(readFileSync(join(path, 'summary')));
      const theirIndex = readFileSync(join(path, deltaIndexRelPath(commits[1])));
      rmSync(join(path, 'delta-indexes'), { recursive: true });
      const repo = Repo.open(path);
      const ours = parseSummary(generateSummary(repo).bytes);
      const deltas = (m: VarDict | undefined): string[] => (m ?? []).map(([k, v]) => `${k}=${Buffer.from(v.value as Uint8Array).toString('hex')}`).sort();
      const theirDeltas = deltas(summaryLookup(theirs, 'ostree.static-deltas')?.value as VarDict);
      assert.equal(theirDeltas.length, 2);
      assert.deepEqual(deltas(summaryLookup(ours, 'ostree.static-deltas')?.value as VarDict), theirDeltas);
      const ourIndex = readFileSync(join(path, deltaIndexRelPath(commits[1])));
      const inner = (b: Buffer): string[] => deltas(dictLookup(parse('a{sv}', b) as VarDict, 'ostree.static-deltas')!.value as VarDict);
      assert.deepEqual(inner(ourIndex), inner(theirIndex));
      assert.deepEqual(ok(path, 'static-delta', 'indexes').trim().split('\n').sort(), [commits[1]]);
    });
  });

  describe('prune', () => {
    let s: ReturnType<typeof scratch>;
    beforeEach(() => { s = scratch(); });
    afterEach(() => s.cleanup());

    /** A history: 3 commits on main, a branch off the first, an orphan commit, a delta to the oldest. */
    function history(): { path: string; commits: string[] } {
      const h = ostreeRepo(s.dir, 'archive', 3);
      ok(h.path, 'refs', '--create=side', h.commits[0]);
      const t = join(s.dir, 'orphan-tree');
      ostreeTree(t, 9, false);
      ok(h.path, 'commit', '--fsync=false', '--orphan', '-s', 'orphan', `--tree=dir=${t}`);
      ok(h.path, 'static-delta', 'generate', `--from=${h.commits[0]}`, `--to=${h.commits[1]}`);
      return h;
    }

    const cases: Array<{ args: string[]; opts: Parameters<typeof prune>[1] }> = [
      { args: ['--refs-only', '--depth=0'], opts: { depth: 0 } },
      { args: ['--refs-only', '--depth=1'], opts: { depth: 1 } },
      { args: ['--refs-only'], opts: {} },
      { args: ['--depth=0'], opts: { refsOnly: false, depth: 0 } },
    ];
    for (const { args, opts } of cases) {
      it(`agrees with ostree prune ${args.join(' ')} on what remains`, () => {
        const h = history();
        const copy = join(s.dir, 'copy');
        cpSync(h.path, copy, { recursive: true, verbatimSymlinks: true });
        const out = ok(h.path, 'prune', ...args);
        const ours = prune(Repo.open(copy), opts);
        const total = Number(/Total objects: (\d+)/.exec(out)![1]);
        const deleted = /Deleted (\d+) objects/.exec(out);
        assert.equal(ours.objectsTotal, total);
        assert.equal(ours.objectsDeleted, deleted ? Number(deleted[1]) : 0);
        assert.deepEqual(objectNames(Repo.open(copy)), objectNames(Repo.open(h.path)));
        const deltas = (p: string): string[] => { try { return readdirSync(join(p, 'deltas'), { recursive: true }) as string[]; } catch { return []; } };
        assert.deepEqual(deltas(copy).sort(), deltas(h.path).sort());
        assert.equal(ostree(copy, 'fsck').status, 0);
      });
    }
  });
});
