import { strict as assert } from 'node:assert';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isCanopyError } from '../../../agent/src/core/errors';
import { ObjectType, serializeCommit, serializeDirMeta, serializeDirTree, S_IFDIR, type Commit, type DirTree } from '../../../agent/src/objects/index';
import { Transaction } from '../../../agent/src/repo/transaction';
import { writeRef } from '../../../agent/src/repo/refs';
import {
  ObjectWalker, listObjects, listRootRefs, objectKey, reachableObjects, repoWalkSource,
} from '../../../agent/src/repo/walk';
import { makeRepo, type Fixture } from './maintenance-fixture';

const keys = (set: Map<string, unknown>): string[] => [...set.keys()].sort();

describe('repo/walk', () => {
  let fx: Fixture;
  beforeEach(async () => { fx = await makeRepo('bare-user-only'); });
  afterEach(() => fx.cleanup());

  it('reaches exactly the objects of a single-commit repository', async () => {
    const c = await fx.commit(1);
    const listed = listObjects(fx.repo).map((o) => objectKey(o.checksum, o.type)).sort();
    assert.deepEqual(keys(reachableObjects(fx.repo, c)), listed);
    const kinds = new Set([...reachableObjects(fx.repo, c).values()].map((o) => o.type));
    assert.deepEqual([...kinds].sort(), [ObjectType.FILE, ObjectType.DIR_TREE, ObjectType.DIR_META, ObjectType.COMMIT].sort());
  });

  it('follows parents up to the depth, and ignores a missing parent', async () => {
    const c1 = await fx.commit(1);
    const c2 = await fx.commit(2);
    const d0 = reachableObjects(fx.repo, c2, { depth: 0 });
    const d1 = reachableObjects(fx.repo, c2, { depth: 1 });
    const all = reachableObjects(fx.repo, c2, { depth: -1 });
    assert.ok(!d0.has(objectKey(c1, ObjectType.COMMIT)));
    assert.ok(d1.has(objectKey(c1, ObjectType.COMMIT)));
    assert.deepEqual(keys(all), keys(d1));
    assert.deepEqual(keys(all), listObjects(fx.repo).map((o) => objectKey(o.checksum, o.type)).sort());
    assert.ok(d1.size > d0.size);
    rmSync(fx.repo.objectPath(c1, ObjectType.COMMIT));
    assert.deepEqual(keys(reachableObjects(fx.repo, c2, { depth: -1 })), keys(d0));
  });

  it('includes the .commitmeta when there is one', async () => {
    const c = await fx.commit(1);
    assert.ok(!reachableObjects(fx.repo, c).has(objectKey(c, ObjectType.COMMIT_META)));
    writeFileSync(fx.repo.objectPath(c, ObjectType.COMMIT_META), Buffer.alloc(0));
    assert.ok(reachableObjects(fx.repo, c).has(objectKey(c, ObjectType.COMMIT_META)));
  });

  it('throws ERR_OBJECT_NOT_FOUND for a missing dirtree unless the commit is partial', async () => {
    const c = await fx.commit(1);
    const root = fx.repo.loadCommit(c).rootTree;
    const sub = fx.repo.loadDirTree(root).dirs.find((d) => d.name === 'sub')!.tree;
    rmSync(fx.repo.objectPath(sub, ObjectType.DIR_TREE));
    assert.throws(() => reachableObjects(fx.repo, c), (e: unknown) => isCanopyError(e, 'ERR_OBJECT_NOT_FOUND') && e.message.includes(sub) && e.message.includes(root));
    writeFileSync(join(fx.repo.path, 'state', `${c}.commitpartial`), '');
    const set = reachableObjects(fx.repo, c);
    assert.ok(set.has(objectKey(sub, ObjectType.DIR_TREE)), 'the missing dirtree is still named as needed');
  });

  it('refuses a corrupt dirtree instead of guessing what it referenced', async () => {
    const c = await fx.commit(1);
    const root = fx.repo.loadCommit(c).rootTree;
    writeFileSync(fx.repo.objectPath(root, ObjectType.DIR_TREE), 'garbage');
    assert.throws(() => reachableObjects(fx.repo, c), (e: unknown) => isCanopyError(e, 'ERR_CHECKSUM_MISMATCH'));
  });

  it('parses each dirtree once, however many directories share it', async () => {
    const c = await fx.commit(1);
    // Build a commit whose root has 50 subdirectories that all share one dirtree.
    const tx = new Transaction(fx.repo);
    const meta = tx.writeMetadata(ObjectType.DIR_META, serializeDirMeta({ uid: 0, gid: 0, mode: S_IFDIR | 0o755, xattrs: [] }));
    const shared = fx.repo.loadCommit(c).rootTree;
    const dirs = Array.from({ length: 50 }, (_, i) => ({ name: `d${i}`, tree: shared, meta }));
    const root = tx.writeMetadata(ObjectType.DIR_TREE, serializeDirTree({ files: [], dirs }));
    const commit = tx.writeMetadata(ObjectType.COMMIT, serializeCommit({ metadata: [], related: [], subject: '', body: '', timestamp: 1, rootTree: root, rootMeta: meta }));
    tx.commit();
    const src = repoWalkSource(fx.repo);
    const loads = new Map<string, number>();
    const w = new ObjectWalker({ ...src, loadDirTree: (t) => { loads.set(t, (loads.get(t) ?? 0) + 1); return src.loadDirTree(t); } });
    w.addCommit(commit);
    assert.ok([...loads.values()].every((n) => n === 1), 'no dirtree loaded twice');
    assert.equal(loads.size, new Set([...w.reachable.values()].filter((o) => o.type === ObjectType.DIR_TREE).map((o) => o.checksum)).size);
  });

  it('walks a 100,000-level deep tree without recursion', () => {
    // In memory: a recursive walk would overflow the stack long before this depth.
    const hex = (i: number): string => i.toString(16).padStart(64, '0');
    const meta = 'e'.repeat(64);
    const trees = new Map<string, DirTree>();
    trees.set(hex(0), { files: [{ name: 'f', checksum: 'f'.repeat(64) }], dirs: [] });
    for (let i = 1; i <= 100_000; i++) trees.set(hex(i), { files: [], dirs: [{ name: 'd', tree: hex(i - 1), meta }] });
    const commit: Commit = { metadata: [], related: [], subject: '', body: '', timestamp: 1, rootTree: hex(100_000), rootMeta: meta };
    const w = new ObjectWalker({ loadCommit: () => commit, loadDirTree: (t) => trees.get(t), isPartial: () => false, hasCommitMeta: () => false });
    w.addCommit('c'.repeat(64));
    assert.equal(w.reachable.size, 100_001 + 1 + 1 + 1);
    assert.ok(w.reachable.has(objectKey('f'.repeat(64), ObjectType.FILE)));
  });

  it('keepWhile ends the history at the first commit that fails it, keeping the start', async () => {
    const c1 = await fx.commit(1, { timestamp: 100 });
    const c2 = await fx.commit(2, { timestamp: 200 });
    const c3 = await fx.commit(3, { timestamp: 300 });
    const w = new ObjectWalker(repoWalkSource(fx.repo));
    w.addCommit(c3, -1, (c) => c.timestamp >= 150);
    assert.ok(w.reachable.has(objectKey(c3, ObjectType.COMMIT)) && w.reachable.has(objectKey(c2, ObjectType.COMMIT)));
    assert.ok(!w.reachable.has(objectKey(c1, ObjectType.COMMIT)));
    const w2 = new ObjectWalker(repoWalkSource(fx.repo));
    w2.addCommit(c3, -1, (c) => c.timestamp >= 1000);
    assert.deepEqual([...w2.reachable.values()].filter((o) => o.type === ObjectType.COMMIT).map((o) => o.checksum), [c3]);
  });

  it('a commit reached again with a larger depth extends the history', async () => {
    const c1 = await fx.commit(1);
    const c2 = await fx.commit(2);
    const w = new ObjectWalker(repoWalkSource(fx.repo));
    w.addCommit(c2, 0);
    assert.ok(!w.reachable.has(objectKey(c1, ObjectType.COMMIT)));
    w.addCommit(c2, 1);
    assert.ok(w.reachable.has(objectKey(c1, ObjectType.COMMIT)));
  });

  it('lists heads, remote refs and mirrored collection refs', async () => {
    const c = await fx.commit(1);
    writeRef(fx.repo, 'a/b', c, 'origin');
    mkdirSync(join(fx.repo.path, 'refs/mirrors/org.example.Os/x'), { recursive: true });
    writeFileSync(join(fx.repo.path, 'refs/mirrors/org.example.Os/x/y'), c + '\n');
    const refs = listRootRefs(fx.repo);
    assert.deepEqual(refs.map((r) => [r.kind, r.owner, r.name]), [['head', undefined, 'main'], ['remote', 'origin', 'a/b'], ['mirror', 'org.example.Os', 'x/y']]);
    assert.ok(refs.every((r) => r.checksum === c));
    writeFileSync(join(fx.repo.path, 'refs/heads/bad'), 'not a checksum\n');
    assert.throws(() => listRootRefs(fx.repo), (e: unknown) => isCanopyError(e, 'ERR_REPO_INVALID'));
  });

  it('lists objects and ignores names that are not objects', async () => {
    await fx.commit(1);
    const before = listObjects(fx.repo).length;
    mkdirSync(join(fx.repo.path, 'objects', 'ab'), { recursive: true });
    writeFileSync(join(fx.repo.path, 'objects', 'ab', 'not-an-object'), '');
    writeFileSync(join(fx.repo.path, 'objects', 'ab', `${'c'.repeat(62)}.filez`), '');
    assert.equal(listObjects(fx.repo).length, before, 'a .filez in a bare-user-only repository is not an object there');
  });
});
