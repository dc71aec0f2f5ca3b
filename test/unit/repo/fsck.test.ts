import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { chmodSync, chownSync, lstatSync, mkdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { isCanopyError } from '../../../agent/src/core/errors';
import { parse } from '../../../agent/src/gvariant/index';
import { ObjectType, serializeCommit, type RepoMode } from '../../../agent/src/objects/index';
import { fsck, verifyMetadata, type FsckReport } from '../../../agent/src/repo/fsck';
import { objectKey } from '../../../agent/src/repo/walk';
import { flipByte, hasTool, isRoot, makeRepo, objectNames, rootFile, type Fixture } from './maintenance-fixture';

const MODES: RepoMode[] = ['archive', 'bare-user-only', 'bare'];
const canBare = isRoot && hasTool('getfattr') && hasTool('setfattr');

function corruptOne(r: FsckReport, checksum: string, type: ObjectType): { why: string; code: string; path: string } {
  assert.equal(r.ok, false);
  const hits = r.corrupt.filter((c) => c.checksum === checksum && c.type === type);
  assert.equal(hits.length, 1, `expected ${objectKey(checksum, type)} in ${JSON.stringify(r.corrupt)}`);
  return hits[0];
}

/** Snapshot of every path, size, mode and mtime under the repository. */
function snapshot(dir: string): string {
  return spawnSync('find', ['.', '-printf', '%p %s %m %T@ %U\n'], { cwd: dir, encoding: 'utf8' }).stdout.split('\n').sort().join('\n');
}

for (const mode of MODES) {
  describe(`repo/fsck (${mode})`, function () {
    let fx: Fixture;
    let c1: string;
    let c2: string;
    before(function () {
      if (mode === 'bare' && !canBare) this.skip(); // bare repositories store ownership: needs root and getfattr
    });
    beforeEach(async () => {
      fx = await makeRepo(mode);
      c1 = await fx.commit(1);
      c2 = await fx.commit(2);
    });
    afterEach(() => fx?.cleanup());

    it('passes on a fresh repository and changes nothing', async () => {
      const before = snapshot(fx.repo.path);
      const progress: string[] = [];
      const r = await fsck(fx.repo, { onProgress: (p) => progress.push(p.phase) });
      assert.deepEqual({ ...r, objects: 0 }, { commits: 2, objects: 0, corrupt: [], missing: [], partialCommits: [], brokenRefs: [], ok: true });
      assert.equal(r.objects, objectNames(fx.repo).length);
      assert.deepEqual([...new Set(progress)], ['metadata', 'content', 'commits']);
      assert.equal(snapshot(fx.repo.path), before);
    });

    it('names a dirtree with a flipped byte', async () => {
      const tree = fx.repo.loadCommit(c2).rootTree;
      flipByte(fx.repo.objectPath(tree, ObjectType.DIR_TREE), 3);
      const r = await fsck(fx.repo);
      const c = corruptOne(r, tree, ObjectType.DIR_TREE);
      assert.equal(c.code, 'ERR_CHECKSUM_MISMATCH');
      assert.match(c.why, /hash/);
      assert.equal(c.path, `objects/${tree.slice(0, 2)}/${tree.slice(2)}.dirtree`);
      assert.equal(r.missing.length, 0, 'a corrupt object is not also reported missing');
    });

    it('names a content object with a flipped byte', async () => {
      const f = rootFile(fx.repo, c2, 'unique-2.txt');
      const p = fx.repo.objectPath(f, ObjectType.FILE);
      flipByte(p, -3);
      const c = corruptOne(await fsck(fx.repo), f, ObjectType.FILE);
      assert.ok(['ERR_CHECKSUM_MISMATCH', 'ERR_OBJECT_INVALID'].includes(c.code), c.code);
    });

    it('names a truncated commit, and the ref that points at it', async () => {
      truncateSync(fx.repo.objectPath(c2, ObjectType.COMMIT), 40);
      const r = await fsck(fx.repo);
      assert.equal(corruptOne(r, c2, ObjectType.COMMIT).code, 'ERR_CHECKSUM_MISMATCH');
      assert.deepEqual(r.brokenRefs, [{ ref: 'main', checksum: c2, why: 'its commit is corrupt' }]);
      assert.equal(r.commits, 1);
    });

    it('reports a deleted file object as missing, with the dirtree that lists it', async () => {
      const f = rootFile(fx.repo, c2, 'unique-2.txt');
      rmSync(fx.repo.objectPath(f, ObjectType.FILE));
      const r = await fsck(fx.repo);
      assert.equal(r.ok, false);
      assert.deepEqual(r.corrupt, []);
      assert.deepEqual(r.missing, [{ checksum: f, type: ObjectType.FILE, referencedBy: [{ checksum: fx.repo.loadCommit(c2).rootTree, type: ObjectType.DIR_TREE }] }]);
    });

    it('reports a missing dirtree with the commit that needs it; a partial commit is only listed', async () => {
      const tree = fx.repo.loadCommit(c2).rootTree;
      rmSync(fx.repo.objectPath(tree, ObjectType.DIR_TREE));
      let r = await fsck(fx.repo);
      assert.deepEqual(r.missing, [{ checksum: tree, type: ObjectType.DIR_TREE, referencedBy: [{ checksum: c2, type: ObjectType.COMMIT }] }]);
      writeFileSync(join(fx.repo.path, 'state', `${c2}.commitpartial`), '');
      r = await fsck(fx.repo);
      assert.deepEqual(r.missing, []);
      assert.deepEqual(r.partialCommits, [{ checksum: c2, byFsck: false }]);
      assert.equal(r.commits, 1);
      assert.equal(r.ok, true);
      writeFileSync(join(fx.repo.path, 'state', `${c2}.commitpartial`), 'f');
      r = await fsck(fx.repo);
      assert.deepEqual(r.partialCommits, [{ checksum: c2, byFsck: true }]);
      assert.equal(r.ok, false, 'a commit marked partial by an fsck repair is an error, as in ostree');
    });

    it('reports a non-normal-form metadata object stored under its own checksum', async () => {
      const c = fx.repo.loadCommit(c2);
      const good = serializeCommit({ ...c, body: 'x' });
      let bad: Buffer | undefined;
      for (let i = 0; i < good.length && !bad; i++) {
        if (good[i] !== 0) continue;
        const b = Buffer.from(good);
        b[i] = 1;
        try {
          parse('(a{sv}aya(say)sstayay)', b);
        } catch (e) {
          if (isCanopyError(e, 'ERR_GVARIANT_NOT_NORMAL') && /padding/.test(e.message)) bad = b;
        }
      }
      assert.ok(bad, 'found a padding byte to spoil');
      const sum = createHash('sha256').update(bad).digest('hex');
      mkdirSync(dirname(fx.repo.objectPath(sum, ObjectType.COMMIT)), { recursive: true });
      writeFileSync(fx.repo.objectPath(sum, ObjectType.COMMIT), bad);
      const r = await fsck(fx.repo);
      const hit = corruptOne(r, sum, ObjectType.COMMIT);
      assert.equal(hit.code, 'ERR_GVARIANT_NOT_NORMAL');
      assert.match(hit.why, /normal form/);
    });

    it('with verifyContent false, skips re-hashing content but still finds missing objects', async () => {
      const f1 = rootFile(fx.repo, c2, 'unique-2.txt');
      const f2 = rootFile(fx.repo, c2, 'tool');
      flipByte(fx.repo.objectPath(f1, ObjectType.FILE), -2);
      rmSync(fx.repo.objectPath(f2, ObjectType.FILE));
      const r = await fsck(fx.repo, { verifyContent: false });
      assert.deepEqual(r.corrupt, []);
      assert.deepEqual(r.missing.map((m) => m.checksum), [f2]);
    });

    it('streams large content and still detects corruption in it', async () => {
      // 300,000-byte file with a 4 KiB threshold: exercises the streaming path.
      const big = fx.repo.loadDirTree(fx.repo.loadDirTree(fx.repo.loadCommit(c2).rootTree).dirs.find((d) => d.name === 'shared')!.tree);
      const sub = fx.repo.loadDirTree(big.dirs[0].tree).files.find((f) => f.name === 'big.bin')!.checksum;
      assert.equal((await fsck(fx.repo, { streamThreshold: 4096 })).ok, true);
      flipByte(fx.repo.objectPath(sub, ObjectType.FILE), -5);
      const r = await fsck(fx.repo, { streamThreshold: 4096 });
      corruptOne(r, sub, ObjectType.FILE);
    });

    if (mode !== 'archive') {
      it('detects a changed mode on a content object', async () => {
        const f = rootFile(fx.repo, c1, 'unique-1.txt');
        chmodSync(fx.repo.objectPath(f, ObjectType.FILE), 0o600);
        const c = corruptOne(await fsck(fx.repo), f, ObjectType.FILE);
        assert.equal(c.code, 'ERR_CHECKSUM_MISMATCH');
      });
    }

    if (mode === 'bare') {
      it('detects a changed owner and an added xattr on a bare content object', async () => {
        const f = rootFile(fx.repo, c1, 'unique-1.txt');
        const p = fx.repo.objectPath(f, ObjectType.FILE);
        const st = lstatSync(p);
        chownSync(p, st.uid + 1, st.gid);
        corruptOne(await fsck(fx.repo), f, ObjectType.FILE);
        chownSync(p, st.uid, st.gid);
        assert.equal((await fsck(fx.repo)).ok, true);
        const g = rootFile(fx.repo, c1, 'tool');
        const r = spawnSync('setfattr', ['-n', 'user.canopy', '-v', 'x', fx.repo.objectPath(g, ObjectType.FILE)]);
        assert.equal(r.status, 0, r.stderr?.toString());
        corruptOne(await fsck(fx.repo), g, ObjectType.FILE);
      });
    }

    if (mode === 'archive') {
      it('reports a .filez whose header lies about the content size', async () => {
        const f = rootFile(fx.repo, c1, 'unique-1.txt');
        const p = fx.repo.objectPath(f, ObjectType.FILE);
        const b = readFileSync(p);
        b.writeUInt32BE(b.readUInt32BE(12) + 1, 12); // low half of the BE size
        writeFileSync(p, b);
        const c = corruptOne(await fsck(fx.repo), f, ObjectType.FILE);
        assert.equal(c.code, 'ERR_OBJECT_INVALID');
        assert.match(c.why, /bytes/);
      });
    }
  });
}

describe('repo/fsck verifyMetadata', () => {
  it('checks the hash before it parses, and validates each type', () => {
    const c = serializeCommit({ metadata: [], related: [], subject: 's', body: '', timestamp: 1, rootTree: 'a'.repeat(64), rootMeta: 'b'.repeat(64) });
    const sum = createHash('sha256').update(c).digest('hex');
    assert.equal((verifyMetadata(ObjectType.COMMIT, sum, c) as { subject: string }).subject, 's');
    assert.throws(() => verifyMetadata(ObjectType.COMMIT, 'c'.repeat(64), c), (e: unknown) => isCanopyError(e, 'ERR_CHECKSUM_MISMATCH'));
    assert.throws(() => verifyMetadata(ObjectType.COMMIT_META, 'c'.repeat(64), Buffer.from([1, 2, 3])), (e: unknown) => isCanopyError(e));
    assert.throws(() => verifyMetadata(ObjectType.TOMBSTONE_COMMIT, 'c'.repeat(64), Buffer.alloc(0)), (e: unknown) => isCanopyError(e, 'ERR_OBJECT_INVALID'));
  });
});
