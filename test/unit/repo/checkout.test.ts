import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import {
  copyFileSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync,
  unlinkSync, writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checksumToBytes } from '../../../agent/src/core/bytes';
import { isCanopyError, type ErrorCode } from '../../../agent/src/core/errors';
import { serialize } from '../../../agent/src/gvariant/index';
import { ObjectType, serializeCommit, serializeDirMeta, serializeDirTree, type RepoMode } from '../../../agent/src/objects/index';
import { checkout, type CheckoutProgress } from '../../../agent/src/repo/checkout';
import { commitTree } from '../../../agent/src/repo/commit-tree';
import { Repo } from '../../../agent/src/repo/repo';
import { Transaction } from '../../../agent/src/repo/transaction';
import { buildNastyTree, NastyPaths, removeTree, type NastyTree } from '../../helpers/nasty-tree';
import { assertTreesEqual, readXattrDump, snapshotTree } from '../../helpers/tree-compare';

const isRoot = process.getuid?.() === 0;
const MODES: RepoMode[] = ['archive', 'bare', 'bare-user-only'];
const BUO_COMPARE = { owner: false, xattrs: false, modeMask: 0o755 } as const;

function hasTool(name: string): boolean {
  const r = spawnSync(name, ['--version'], { stdio: 'ignore' });
  return !r.error;
}

const rejectsWith = (code: ErrorCode) => (e: unknown): boolean => {
  assert.ok(isCanopyError(e, code), `expected ${code}, got ${String(e)}`);
  return true;
};

/** The checksum of the file object at `rel` in `commit`. */
function fileObject(repo: Repo, commit: string, rel: string): string {
  const parts = rel.split('/');
  let tree = repo.loadDirTree(repo.loadCommit(commit).rootTree);
  for (const name of parts.slice(0, -1)) tree = repo.loadDirTree(tree.dirs.find((d) => d.name === name)!.tree);
  return tree.files.find((f) => f.name === parts[parts.length - 1])!.checksum;
}

/** dev:ino of every content object, to tell hardlinks from copies. */
function objectInodes(repo: Repo): Set<string> {
  const out = new Set<string>();
  const objects = join(repo.path, 'objects');
  for (const prefix of readdirSync(objects)) {
    for (const name of readdirSync(join(objects, prefix))) {
      if (!name.endsWith('.file')) continue;
      const st = lstatSync(join(objects, prefix, name));
      out.add(`${st.dev}:${st.ino}`);
    }
  }
  return out;
}

describe('repo/checkout', function () {
  let tmp: string;
  let tree: NastyTree;
  const repos = new Map<RepoMode, { repo: Repo; commit: string }>();
  let n = 0;
  /** A path in the temp dir that does not exist yet. */
  const fresh = (): string => join(tmp, `co-${++n}`);
  const need = (mode: RepoMode, ctx: Mocha.Context): { repo: Repo; commit: string } => {
    const r = repos.get(mode);
    if (!r) {
      console.log(`      skipped: a ${mode} repository needs root`);
      ctx.skip();
    }
    return r!;
  };

  before(async function () {
    if (!hasTool('getfattr') || !hasTool('setfattr')) {
      console.log('      skipped: getfattr/setfattr not installed (Debian package attr)');
      this.skip();
    }
    tmp = mkdtempSync(join(tmpdir(), 'canopy-checkout-'));
    tree = buildNastyTree(tmp);
    for (const mode of MODES) {
      if (mode === 'bare' && !isRoot) continue;
      const repo = Repo.init(join(tmp, `repo-${mode}`), { mode });
      const { checksum } = await commitTree(repo, tree.root, { branch: 'main', subject: 'nasty', timestamp: 1_700_000_000 });
      repos.set(mode, { repo, commit: checksum });
    }
  });

  after(() => {
    if (tmp) removeTree(tmp);
  });

  describe('reproduces the committed tree', () => {
    for (const mode of MODES) {
      it(`from a ${mode} repository: content, modes, symlink targets, owners and xattrs`, async function () {
        const { repo, commit } = need(mode, this);
        const dest = fresh();
        await checkout(repo, commit, dest);
        if (mode === 'bare-user-only') {
          // Canonical permissions: everything belongs to the caller, no xattrs.
          assertTreesEqual(tree.root, dest, BUO_COMPARE);
          assert.equal(readXattrDump(dest).size, 0);
          for (const e of snapshotTree(dest, { xattrs: false }).values()) assert.equal(e.uid, process.getuid!(), e.path);
        } else {
          assertTreesEqual(tree.root, dest);
          if (isRoot) {
            assert.ok(tree.features.capability);
            assert.equal(readXattrDump(dest).get(NastyPaths.capability)?.get('security.capability'), '0100000200200000000000000000000000000000');
          }
        }
      });
    }

    it('hardlinks from bare repos as ostree does: non-empty files and (bare only) symlinks; copies the rest', async function () {
      for (const mode of ['bare', 'bare-user-only'] as const) {
        if (!repos.has(mode)) continue;
        const { repo, commit } = repos.get(mode)!;
        const dest = fresh();
        const stats = await checkout(repo, commit, dest);
        const inodes = objectInodes(repo);
        let linked = 0;
        let copied = 0;
        for (const e of snapshotTree(dest, { xattrs: false }).values()) {
          if (e.type === 'dir') continue;
          const st = lstatSync(join(dest, e.path));
          const isLinked = inodes.has(`${st.dev}:${st.ino}`);
          const expectLinked = e.type === 'file' ? st.size > 0 : mode === 'bare';
          assert.equal(isLinked, expectLinked, `${mode}: ${e.path} ${isLinked ? 'is' : 'is not'} a hardlink`);
          if (isLinked) linked++;
          else copied++;
        }
        assert.deepEqual({ hardlinked: stats.hardlinked, copied: stats.copied, kept: stats.kept }, { hardlinked: linked, copied, kept: 0 });
      }
      if (repos.size < 2) this.skip();
    });

    it('copies everything from an archive repository and counts entries', async () => {
      const { repo, commit } = repos.get('archive')!;
      const dest = fresh();
      const progress: CheckoutProgress[] = [];
      const stats = await checkout(repo, commit, dest, { onProgress: (p) => progress.push(p) });
      const entries = [...snapshotTree(tree.root, { xattrs: false }).values()];
      const files = entries.filter((e) => e.type === 'file').length;
      const symlinks = entries.filter((e) => e.type === 'symlink').length;
      const dirs = entries.filter((e) => e.type === 'dir').length;
      assert.deepEqual(stats, { files, symlinks, dirs, hardlinked: 0, copied: files + symlinks, kept: 0 });
      for (const e of snapshotTree(dest, { xattrs: false }).values()) if (e.type !== 'dir') assert.equal(e.nlink, 1, e.path);
      const last = progress[progress.length - 1];
      assert.deepEqual(last, { filesDone: files + symlinks, filesTotal: files + symlinks });
    });

    it('sets new directories\' mtime to 0 as ostree does, except when copying', async () => {
      const { repo, commit } = repos.get('bare-user-only')!;
      const linked = fresh();
      await checkout(repo, commit, linked);
      assert.equal(statSync(join(linked, 'deep/d1')).mtimeMs, 0);
      assert.equal(statSync(linked).mtimeMs, 0);
      const copied = fresh();
      await checkout(repo, commit, copied, { linkMode: 'copy' });
      assert.ok(statSync(join(copied, 'deep/d1')).mtimeMs > 0);
    });
  });

  describe('modes and options', () => {
    it('userMode from a bare repository copies, strips setuid/setgid, leaves owners and xattrs alone', async function () {
      const { repo, commit } = need('bare', this);
      const dest = fresh();
      const stats = await checkout(repo, commit, dest, { userMode: true });
      assert.equal(stats.hardlinked, 0);
      assertTreesEqual(tree.root, dest, { owner: false, xattrs: false, expectMode: (e) => (e.type === 'file' ? e.mode & ~0o6000 : e.mode) });
      assert.equal(lstatSync(join(dest, NastyPaths.setuid)).mode & 0o7777, 0o755);
      assert.equal(readXattrDump(dest).size, 0);
      assert.equal(lstatSync(join(dest, NastyPaths.ownedDir, 'by-4242')).uid, 0);
    });

    it('linkMode copy from a bare repository keeps owners, modes and xattrs (read from the objects)', async function () {
      const { repo, commit } = need('bare', this);
      const dest = fresh();
      const stats = await checkout(repo, commit, dest, { linkMode: 'copy' });
      assert.equal(stats.hardlinked, 0);
      assertTreesEqual(tree.root, dest);
      for (const e of snapshotTree(dest, { xattrs: false }).values()) if (e.type !== 'dir') assert.equal(e.nlink, 1, e.path);
    });

    it('noXattrs leaves attributes off directories and copies', async () => {
      const { repo, commit } = repos.get('archive')!;
      const dest = fresh();
      await checkout(repo, commit, dest, { noXattrs: true });
      assert.equal(readXattrDump(dest).size, 0);
      assertTreesEqual(tree.root, dest, { xattrs: false });
    });

    it('linkMode hardlink refuses an archive repository and a bare one in user mode', async function () {
      const { repo, commit } = repos.get('archive')!;
      const dest = fresh();
      await assert.rejects(checkout(repo, commit, dest, { linkMode: 'hardlink' }), rejectsWith('ERR_REPO_MODE'));
      assert.equal(existsSync(dest), false);
      if (!repos.has('bare')) return;
      const bare = repos.get('bare')!;
      await assert.rejects(checkout(bare.repo, bare.commit, dest, { linkMode: 'hardlink', userMode: true }), rejectsWith('ERR_REPO_MODE'));
      const ok = await checkout(bare.repo, bare.commit, dest, { linkMode: 'hardlink' });
      assert.ok(ok.hardlinked > 0);
    });

    it('falls back to copies on another file system; linkMode hardlink refuses it', async function () {
      const other = '/dev/shm';
      if (!existsSync(other) || statSync(other).dev === statSync(tmp).dev) {
        console.log('      skipped: no second file system (/dev/shm) to check out onto');
        this.skip();
      }
      const { repo, commit } = repos.get('bare-user-only')!;
      const dir = mkdtempSync(join(other, 'canopy-checkout-'));
      try {
        await assert.rejects(checkout(repo, commit, join(dir, 'a'), { linkMode: 'hardlink' }), rejectsWith('ERR_HARDLINK_FAILED'));
        assert.equal(existsSync(join(dir, 'a')), false);
        const stats = await checkout(repo, commit, join(dir, 'b'));
        assert.equal(stats.hardlinked, 0);
        assertTreesEqual(tree.root, join(dir, 'b'), BUO_COMPARE);
      } finally {
        removeTree(dir);
      }
    });

    it('refuses union together with unionAdd, and an unknown linkMode', async () => {
      const { repo, commit } = repos.get('archive')!;
      await assert.rejects(checkout(repo, commit, fresh(), { union: true, unionAdd: true }), rejectsWith('ERR_INVALID_ARGUMENT'));
      await assert.rejects(checkout(repo, commit, fresh(), { linkMode: 'reflink' as never }), rejectsWith('ERR_INVALID_ARGUMENT'));
    });

    it('accepts a ref name and flushes with fsync', async () => {
      const { repo } = repos.get('bare-user-only')!;
      const dest = fresh();
      await checkout(repo, 'main', dest, { fsync: true });
      assert.equal(readFileSync(join(dest, 'hello.txt'), 'utf8'), 'hello\n');
    });
  });

  describe('subpath', () => {
    it('checks out a directory of the commit as the destination, however the path is spelled', async () => {
      const { repo, commit } = repos.get('archive')!;
      for (const sub of ['/etc', 'etc/', '//etc/./']) {
        const dest = fresh();
        const stats = await checkout(repo, commit, dest, { subpath: sub });
        assert.equal(stats.files, 3);
        assertTreesEqual(join(tree.root, 'etc'), dest);
      }
      const deep = fresh();
      await checkout(repo, commit, deep, { subpath: 'links' });
      assertTreesEqual(join(tree.root, 'links'), deep);
    });

    it('checks out a single file into the destination directory under its own name', async () => {
      const { repo, commit } = repos.get('archive')!;
      const dest = fresh();
      const stats = await checkout(repo, commit, dest, { subpath: '/bin/su' });
      assert.deepEqual(readdirSync(dest), ['su']);
      assert.equal(lstatSync(dest).mode & 0o7777, 0o700); // as ostree makes it
      assert.equal(lstatSync(join(dest, 'su')).mode & 0o7777, 0o4755);
      assert.equal(stats.files, 1);
      // The directory may exist already; the file may not (without a union).
      await assert.rejects(checkout(repo, commit, dest, { subpath: '/bin/su' }), rejectsWith('ERR_CHECKOUT_EXISTS'));
      await checkout(repo, commit, dest, { subpath: NastyPaths.danglingLink });
      assert.equal(lstatSync(join(dest, 'dangling')).isSymbolicLink(), true);
    });

    it('refuses ".." and paths outside the tree, and reports paths the commit lacks; nothing is created', async () => {
      const { repo, commit } = repos.get('archive')!;
      const dest = fresh();
      for (const sub of ['..', '/etc/../..', 'etc/../../outside', '../etc']) {
        await assert.rejects(checkout(repo, commit, dest, { subpath: sub }), rejectsWith('ERR_UNSAFE_PATH'));
      }
      for (const sub of ['/nope', '/hello.txt/x', `${NastyPaths.dirLink}/d1`]) {
        await assert.rejects(checkout(repo, commit, dest, { subpath: sub }), rejectsWith('ERR_PATH_NOT_FOUND'));
      }
      assert.equal(existsSync(dest), false);
    });
  });

  describe('destination', () => {
    it('refuses an existing destination without union and leaves it untouched', async () => {
      const { repo, commit } = repos.get('bare-user-only')!;
      const dest = fresh();
      mkdirSync(dest);
      writeFileSync(join(dest, 'mine'), 'keep');
      await assert.rejects(checkout(repo, commit, dest), (e: unknown) => {
        assert.ok(isCanopyError(e, 'ERR_CHECKOUT_EXISTS'));
        assert.equal(e.details.removed, undefined);
        return true;
      });
      assert.deepEqual(readdirSync(dest), ['mine']);
    });

    it('refuses a destination that is a symlink, even in a union', async () => {
      const { repo, commit } = repos.get('bare-user-only')!;
      const target = fresh();
      mkdirSync(target);
      const dest = fresh();
      symlinkSync(target, dest);
      await assert.rejects(checkout(repo, commit, dest, { union: true }), rejectsWith('ERR_UNSAFE_PATH'));
      assert.deepEqual(readdirSync(target), []);
    });
  });

  describe('union and unionAdd', () => {
    /** A destination with stale, extra and hostile entries. */
    function populated(): { dest: string; outside: string } {
      const dest = fresh();
      const outside = fresh();
      mkdirSync(outside);
      writeFileSync(join(outside, 'victim'), 'must not change\n');
      mkdirSync(join(dest, 'etc'), { recursive: true, mode: 0o700 });
      writeFileSync(join(dest, 'etc/readonly'), 'stale\n');
      writeFileSync(join(dest, 'etc/extra'), 'not in the commit\n');
      symlinkSync(join(outside, 'victim'), join(dest, 'hello.txt'));
      symlinkSync(join(outside, 'victim'), join(dest, NastyPaths.big));
      return { dest, outside };
    }

    for (const mode of MODES) {
      it(`union (${mode}): replaces files and symlinked files without writing through them, keeps extra files and existing directories`, async function () {
        const { repo, commit } = need(mode, this);
        const { dest, outside } = populated();
        const stats = await checkout(repo, commit, dest, { union: true });
        assert.equal(readFileSync(join(outside, 'victim'), 'utf8'), 'must not change\n');
        assert.equal(lstatSync(join(dest, 'hello.txt')).isFile(), true);
        assert.equal(readFileSync(join(dest, 'hello.txt'), 'utf8'), 'hello\n');
        assert.equal(readFileSync(join(dest, 'etc/readonly'), 'utf8'), 'read only\n');
        assert.equal(readFileSync(join(dest, 'etc/extra'), 'utf8'), 'not in the commit\n');
        assert.equal(lstatSync(join(dest, 'etc')).mode & 0o7777, 0o700, 'an existing directory keeps its mode');
        assert.equal(stats.kept, 0);
        const cmp = mode === 'bare-user-only' ? BUO_COMPARE : {};
        assertTreesEqual(tree.root, dest, { ...cmp, ignoreRoot: true, ignore: (p) => p === 'etc' || p === 'etc/extra' });
      });
    }

    it('unionAdd keeps existing files and symlinks (never following them) and adds the missing ones', async () => {
      const { repo, commit } = repos.get('archive')!;
      const { dest, outside } = populated();
      const stats = await checkout(repo, commit, dest, { unionAdd: true });
      assert.equal(stats.kept, 3);
      assert.equal(readFileSync(join(dest, 'etc/readonly'), 'utf8'), 'stale\n');
      assert.equal(lstatSync(join(dest, 'hello.txt')).isSymbolicLink(), true);
      assert.equal(readFileSync(join(outside, 'victim'), 'utf8'), 'must not change\n');
      assert.equal(readFileSync(join(dest, 'etc/secret'), 'utf8'), 'owner only\n');
      assertTreesEqual(tree.root, dest, { ignoreRoot: true, ignore: (p) => ['etc', 'etc/extra', 'etc/readonly', 'hello.txt', NastyPaths.big].includes(p) });
    });

    it('a second union of the same bare commit leaves the hardlinks in place and no temporary files', async () => {
      const { repo, commit } = repos.get('bare-user-only')!;
      const dest = fresh();
      const first = await checkout(repo, commit, dest);
      const second = await checkout(repo, commit, dest, { union: true });
      assert.equal(second.hardlinked, first.hardlinked);
      const leftovers = [...snapshotTree(dest, { xattrs: false }).keys()].filter((p) => p.includes('.canopy-checkout-'));
      assert.deepEqual(leftovers, []);
      assertTreesEqual(tree.root, dest, BUO_COMPARE);
    });

    it('a file where the commit has a directory, or a directory where it has a file, is ERR_CHECKOUT_CONFLICT', async () => {
      const { repo, commit } = repos.get('archive')!;
      const a = fresh();
      mkdirSync(a);
      writeFileSync(join(a, 'etc'), 'a file');
      await assert.rejects(checkout(repo, commit, a, { union: true }), rejectsWith('ERR_CHECKOUT_CONFLICT'));
      const b = fresh();
      mkdirSync(join(b, 'hello.txt'), { recursive: true });
      await assert.rejects(checkout(repo, commit, b, { union: true }), (e: unknown) => {
        assert.ok(isCanopyError(e, 'ERR_CHECKOUT_CONFLICT'));
        assert.match(e.message, /before the failure is still there/);
        return true;
      });
      const c = fresh();
      mkdirSync(join(c, 'hello.txt'), { recursive: true });
      const stats = await checkout(repo, commit, c, { unionAdd: true });
      assert.equal(lstatSync(join(c, 'hello.txt')).isDirectory(), true, 'unionAdd keeps a directory where the commit has a file');
      assert.equal(stats.kept, 1);
    });
  });

  describe('hostile destinations', () => {
    for (const where of ['etc', 'deep/d1/d2']) {
      it(`never follows a symlink where the commit has a directory (${where})`, async () => {
        for (const opt of [{ union: true }, { unionAdd: true }]) {
          const { repo, commit } = repos.get('archive')!;
          const dest = fresh();
          const outside = fresh();
          mkdirSync(outside);
          mkdirSync(join(dest, where, '..'), { recursive: true });
          symlinkSync(outside, join(dest, where));
          await assert.rejects(checkout(repo, commit, dest, opt), rejectsWith('ERR_UNSAFE_PATH'));
          assert.deepEqual(readdirSync(outside), [], 'nothing was written through the symlink');
          assert.equal(lstatSync(join(dest, where)).isSymbolicLink(), true);
        }
      });
    }

    it('refuses a symlinked directory in a union from a bare repository too', async function () {
      const { repo, commit } = need('bare', this);
      const dest = fresh();
      const outside = fresh();
      mkdirSync(outside);
      mkdirSync(dest);
      symlinkSync(outside, join(dest, 'bin'));
      await assert.rejects(checkout(repo, commit, dest, { union: true }), rejectsWith('ERR_UNSAFE_PATH'));
      assert.deepEqual(readdirSync(outside), []);
    });
  });

  describe('failures', () => {
    /** A small repository of its own, so corrupting it harms no other test. */
    async function smallRepo(mode: RepoMode): Promise<{ repo: Repo; commit: string }> {
      const src = fresh();
      mkdirSync(join(src, 'etc/sub'), { recursive: true });
      writeFileSync(join(src, 'a'), 'first file\n');
      writeFileSync(join(src, 'b'), 'second file\n');
      writeFileSync(join(src, 'etc/sub/c'), 'third\n');
      const repo = Repo.init(fresh(), { mode });
      const { checksum } = await commitTree(repo, src, { timestamp: 1 });
      return { repo, commit: checksum };
    }

    it('a tampered archive object fails verification and the new destination is removed', async () => {
      const { repo, commit } = await smallRepo('archive');
      // A valid object stored under another object's name.
      const a = repo.objectPath(fileObject(repo, commit, 'a'), ObjectType.FILE);
      const b = repo.objectPath(fileObject(repo, commit, 'b'), ObjectType.FILE);
      copyFileSync(a, b);
      const dest = fresh();
      await assert.rejects(checkout(repo, commit, dest), (e: unknown) => {
        assert.ok(isCanopyError(e, 'ERR_CHECKSUM_MISMATCH'), String(e));
        assert.equal(e.details.removed, true);
        assert.match(e.message, /partial checkout was removed/);
        return true;
      });
      assert.equal(existsSync(dest), false);
    });

    it('a missing file object fails with ERR_OBJECT_NOT_FOUND and the new destination is removed', async () => {
      const { repo, commit } = await smallRepo('bare-user-only');
      unlinkSync(repo.objectPath(fileObject(repo, commit, 'etc/sub/c'), ObjectType.FILE));
      const dest = fresh();
      await assert.rejects(checkout(repo, commit, dest), rejectsWith('ERR_OBJECT_NOT_FOUND'));
      assert.equal(existsSync(dest), false);
      // Inside an existing destination nothing is removed, and the error says so.
      const existing = fresh();
      mkdirSync(existing);
      await assert.rejects(checkout(repo, commit, existing, { union: true }), (e: unknown) => {
        assert.ok(isCanopyError(e, 'ERR_OBJECT_NOT_FOUND'));
        assert.match(e.message, /still there/);
        return true;
      });
      assert.equal(readFileSync(join(existing, 'a'), 'utf8'), 'first file\n');
    });

    it('a missing or hostile dirtree fails before anything is created', async () => {
      const { repo, commit } = await smallRepo('bare-user-only');
      const root = repo.loadDirTree(repo.loadCommit(commit).rootTree);
      const etc = root.dirs.find((d) => d.name === 'etc')!;
      const etcTree = repo.loadDirTree(etc.tree);
      unlinkSync(repo.objectPath(etcTree.dirs[0].tree, ObjectType.DIR_TREE));
      const dest = fresh();
      await assert.rejects(checkout(repo, commit, dest), rejectsWith('ERR_OBJECT_NOT_FOUND'));
      assert.equal(existsSync(dest), false);

      // A dirtree naming a file "..", written past the serializer's own checks.
      const tx = new Transaction(repo);
      const evil = tx.writeMetadata(ObjectType.DIR_TREE, serialize('(a(say)a(sayay))', [[['..', checksumToBytes(root.files[0].checksum)]], []]));
      const c2 = tx.writeMetadata(ObjectType.COMMIT, serializeCommit({ metadata: [], related: [], subject: '', body: '', timestamp: 0, rootTree: evil, rootMeta: etc.meta }));
      tx.commit();
      await assert.rejects(checkout(repo, c2, dest), rejectsWith('ERR_UNSAFE_NAME'));
      assert.equal(existsSync(dest), false);
    });

    it('a tree that expands exponentially or nests too deep is ERR_TREE_TOO_LARGE before anything is created', async () => {
      const repo = Repo.init(fresh(), { mode: 'bare-user-only' });
      const tx = new Transaction(repo);
      const meta = tx.writeMetadata(ObjectType.DIR_META, serializeDirMeta({ uid: 0, gid: 0, mode: 0o40755, xattrs: [] }));
      const commitOf = (rootTree: string): string =>
        tx.writeMetadata(ObjectType.COMMIT, serializeCommit({ metadata: [], related: [], subject: '', body: '', timestamp: 0, rootTree, rootMeta: meta }));
      let wide = tx.writeMetadata(ObjectType.DIR_TREE, serializeDirTree({ files: [], dirs: [] }));
      for (let i = 0; i < 32; i++) wide = tx.writeMetadata(ObjectType.DIR_TREE, serializeDirTree({ files: [], dirs: [{ name: 'a', tree: wide, meta }, { name: 'b', tree: wide, meta }] }));
      let deep = tx.writeMetadata(ObjectType.DIR_TREE, serializeDirTree({ files: [], dirs: [] }));
      for (let i = 0; i < 2100; i++) deep = tx.writeMetadata(ObjectType.DIR_TREE, serializeDirTree({ files: [], dirs: [{ name: 'd', tree: deep, meta }] }));
      const bomb = commitOf(wide);
      const tall = commitOf(deep);
      tx.commit();
      const dest = fresh();
      await assert.rejects(checkout(repo, bomb, dest), rejectsWith('ERR_TREE_TOO_LARGE'));
      await assert.rejects(checkout(repo, tall, dest), rejectsWith('ERR_TREE_TOO_LARGE'));
      assert.equal(existsSync(dest), false);
    });
  });

  it('streams archive content larger than 64 MiB, verified, also over an existing file', async function () {
    this.timeout(120_000);
    const src = fresh();
    mkdirSync(src);
    const big = Buffer.alloc((64 << 20) + 3, 0x5a);
    big.write('head', 0);
    big.write('tail', big.length - 4);
    writeFileSync(join(src, 'huge'), big);
    const repo = Repo.init(fresh(), { mode: 'archive' });
    const { checksum } = await commitTree(repo, src, { timestamp: 1 });
    const dest = fresh();
    await checkout(repo, checksum, dest);
    assert.ok(readFileSync(join(dest, 'huge')).equals(big));
    writeFileSync(join(dest, 'huge'), 'old');
    await checkout(repo, checksum, dest, { union: true });
    assert.ok(readFileSync(join(dest, 'huge')).equals(big));
    assert.deepEqual(readdirSync(dest), ['huge']);
    rmSync(dest, { recursive: true });
    rmSync(src, { recursive: true });
  });
});
