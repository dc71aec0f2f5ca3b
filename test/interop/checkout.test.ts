/**
 * checkout against the real ostree (2022.7 in CI): `ostree checkout` of a
 * Canopy commit and Canopy's checkout of an `ostree commit` both reproduce
 * the source tree exactly, in every repository mode; both tools hardlink and
 * copy the same entries; and the options (user mode, copies, union,
 * union-add, subpath) leave the same trees as ostree's.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { lstatSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RepoMode } from '../../agent/src/objects/index';
import { checkout, type CheckoutOptions } from '../../agent/src/repo/checkout';
import { commitTree } from '../../agent/src/repo/commit-tree';
import { Repo } from '../../agent/src/repo/repo';
import { buildNastyTree, NastyPaths, removeTree, type NastyTree } from '../helpers/nasty-tree';
import { assertTreesEqual, snapshotTree, type CompareOptions } from '../helpers/tree-compare';

const isRoot = process.getuid?.() === 0;
const MODES: RepoMode[] = ['archive', 'bare', 'bare-user-only'];
const present = (cmd: string): boolean => !spawnSync(cmd, ['--version'], { stdio: 'ignore' }).error;

function ostree(...args: string[]): string {
  const r = spawnSync('ostree', args, { encoding: 'utf8' });
  assert.equal(r.status, 0, `ostree ${args.join(' ')}: ${r.stdout}${r.stderr}`);
  return r.stdout;
}

/** How a checkout from a repository of `mode` compares with its source. */
const compareFor = (mode: RepoMode): CompareOptions => (mode === 'bare-user-only' ? { owner: false, xattrs: false, modeMask: 0o755 } : {});
/** ostree needs -U for bare-user-only (it forces user mode anyway); plain for the rest, as root. */
const ostreeModeArgs = (mode: RepoMode): string[] => (mode === 'bare-user-only' ? ['-U'] : []);

/** Non-directory entries that are single links (copies), as a sorted list. */
function copiedEntries(root: string): string[] {
  return [...snapshotTree(root, { xattrs: false }).values()].filter((e) => e.type !== 'dir' && e.nlink === 1).map((e) => e.path).sort();
}

describe('interop: checkout against ostree', function () {
  let tmp: string;
  let tree: NastyTree;
  let n = 0;
  const fresh = (): string => join(tmp, `d-${++n}`);
  const canopyRepos = new Map<RepoMode, { repo: Repo; commit: string }>();
  const ostreeRepos = new Map<RepoMode, string>();
  const skipUnlessRoot = (mode: RepoMode, ctx: Mocha.Context): void => {
    if (mode === 'bare' && !isRoot) {
      console.log('      skipped: a bare repository needs root');
      ctx.skip();
    }
  };

  before(async function () {
    for (const [cmd, pkg] of [['ostree', 'ostree'], ['getfattr', 'attr'], ['setfattr', 'attr']]) {
      if (!present(cmd)) {
        console.log(`      skipped: ${cmd} not installed (Debian package ${pkg})`);
        this.skip();
      }
    }
    tmp = mkdtempSync(join(tmpdir(), 'canopy-checkout-interop-'));
    tree = buildNastyTree(tmp);
    for (const mode of MODES) {
      if (mode === 'bare' && !isRoot) continue;
      const repo = Repo.init(join(tmp, `canopy-${mode}`), { mode });
      const { checksum } = await commitTree(repo, tree.root, { branch: 'main', subject: 'nasty', timestamp: 1_700_000_000 });
      canopyRepos.set(mode, { repo, commit: checksum });
      const opath = join(tmp, `ostree-${mode}`);
      ostree('init', `--repo=${opath}`, `--mode=${mode}`);
      ostree('commit', `--repo=${opath}`, '-b', 'main', '-s', 'nasty', `--tree=dir=${tree.root}`);
      ostreeRepos.set(mode, opath);
    }
  });

  after(() => {
    if (tmp) removeTree(tmp);
  });

  for (const mode of MODES) {
    describe(`${mode} repositories`, () => {
      it('ostree checkout of a Canopy commit reproduces the source tree', function () {
        skipUnlessRoot(mode, this);
        const { repo, commit } = canopyRepos.get(mode)!;
        const dest = fresh();
        ostree('checkout', `--repo=${repo.path}`, ...ostreeModeArgs(mode), commit, dest);
        assertTreesEqual(tree.root, dest, compareFor(mode));
      });

      it('Canopy checkout of an ostree commit reproduces the source tree', async function () {
        skipUnlessRoot(mode, this);
        const dest = fresh();
        await checkout(Repo.open(ostreeRepos.get(mode)!), 'main', dest);
        assertTreesEqual(tree.root, dest, compareFor(mode));
      });

      it('both tools hardlink and copy the same entries', async function () {
        skipUnlessRoot(mode, this);
        const path = ostreeRepos.get(mode)!;
        const theirs = fresh();
        ostree('checkout', `--repo=${path}`, ...ostreeModeArgs(mode), 'main', theirs);
        const ours = fresh();
        const stats = await checkout(Repo.open(path), 'main', ours);
        assert.deepEqual(copiedEntries(ours), copiedEntries(theirs));
        assert.equal(stats.copied, copiedEntries(ours).length);
        assertTreesEqual(theirs, ours);
      });
    });
  }

  describe('options leave the same tree as ostree\'s', () => {
    /** Runs both tools with matching options on the same repository and compares the results. */
    async function same(mode: RepoMode, args: string[], opts: CheckoutOptions, prepare?: (dest: string) => void, cmp: CompareOptions = {}): Promise<{ ours: string; theirs: string }> {
      const path = ostreeRepos.get(mode)!;
      const theirs = fresh();
      const ours = fresh();
      if (prepare) {
        prepare(theirs);
        prepare(ours);
      }
      ostree('checkout', `--repo=${path}`, ...args, 'main', theirs);
      await checkout(Repo.open(path), 'main', ours, opts);
      assertTreesEqual(theirs, ours, cmp);
      return { ours, theirs };
    }

    /** A destination holding a stale file, an extra file, a custom-mode directory and a symlink where the commit has a file. */
    const populate = (dest: string): void => {
      mkdirSync(join(dest, 'etc'), { recursive: true, mode: 0o700 });
      writeFileSync(join(dest, 'etc/readonly'), 'stale\n');
      writeFileSync(join(dest, 'etc/extra'), 'not in the commit\n');
      symlinkSync('/etc/hostname', join(dest, 'hello.txt'));
    };

    it('user mode from a bare repository (-U): copies without setuid, owners or xattrs', async function () {
      skipUnlessRoot('bare', this);
      const { ours } = await same('bare', ['-U'], { userMode: true });
      assert.equal(lstatSync(join(ours, NastyPaths.setuid)).mode & 0o7777, 0o755);
    });

    it('forced copies from a bare repository (-C)', async function () {
      skipUnlessRoot('bare', this);
      const { ours, theirs } = await same('bare', ['-C'], { linkMode: 'copy' });
      assert.deepEqual(copiedEntries(ours), copiedEntries(theirs));
    });

    it('--union into a populated destination', async () => {
      await same('archive', ['--union'], { union: true }, populate);
    });

    it('--union-add into a populated destination', async () => {
      const { ours } = await same('archive', ['--union-add'], { unionAdd: true }, populate);
      assert.equal(lstatSync(join(ours, 'hello.txt')).isSymbolicLink(), true);
    });

    it('--union of a bare-user-only repository over a previous checkout', async () => {
      const path = ostreeRepos.get('bare-user-only')!;
      await same('bare-user-only', ['-U', '--union'], { union: true }, (d) => ostree('checkout', `--repo=${path}`, '-U', 'main', d));
    });

    it('--subpath of a directory and of a file', async () => {
      for (const subpath of ['/etc', '/links', `/${NastyPaths.setuid}`, `/${NastyPaths.danglingLink}`]) {
        await same('archive', [`--subpath=${subpath}`], { subpath });
      }
    });
  });
});
