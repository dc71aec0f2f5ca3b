import { strict as assert } from 'node:assert';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isCanopyError } from '../../../agent/src/core/errors';
import { parse, type VarDict } from '../../../agent/src/gvariant/index';
import { ObjectType } from '../../../agent/src/objects/index';
import { fsck } from '../../../agent/src/repo/fsck';
import { planPrune, prune } from '../../../agent/src/repo/prune';
import { writeRef } from '../../../agent/src/repo/refs';
import { staticDeltaRelPath } from '../../../agent/src/repo/summary-writer';
import { objectKey, reachableObjects } from '../../../agent/src/repo/walk';
import { makeRepo, objectNames, rootFile, type Fixture } from './maintenance-fixture';

const rel = (fx: Fixture, checksum: string, type: ObjectType): string => fx.repo.objectPath(checksum, type).slice(fx.repo.path.length + 1);

describe('repo/prune', () => {
  let fx: Fixture;
  let c1: string;
  let c2: string;
  beforeEach(async () => {
    fx = await makeRepo('bare-user-only');
    c1 = await fx.commit(1);
    c2 = await fx.commit(2);
  });
  afterEach(() => fx.cleanup());

  it('depth 0 removes what only the first commit needs and keeps what both share', async () => {
    const only1 = rootFile(fx.repo, c1, 'unique-1.txt');
    const shared = rootFile(fx.repo, c1, 'tool');
    assert.equal(shared, rootFile(fx.repo, c2, 'tool'));
    const before = objectNames(fx.repo);
    const need2 = reachableObjects(fx.repo, c2);
    const r = prune(fx.repo, { depth: 0 });
    const after = objectNames(fx.repo);
    assert.equal(r.objectsTotal, before.length);
    assert.equal(r.objectsDeleted, before.length - after.length);
    assert.deepEqual(r.commitsDeleted, [c1]);
    assert.ok(r.bytesFreed > 0);
    assert.ok(!existsSync(fx.repo.objectPath(only1, ObjectType.FILE)));
    assert.ok(!existsSync(fx.repo.objectPath(c1, ObjectType.COMMIT)));
    assert.ok(existsSync(fx.repo.objectPath(shared, ObjectType.FILE)));
    // What remains is exactly what the branch head needs.
    assert.deepEqual(after, [...need2.values()].map((o) => rel(fx, o.checksum, o.type)).sort());
    assert.equal((await fsck(fx.repo)).ok, true);
    // A second prune finds nothing.
    assert.equal(prune(fx.repo, { depth: 0 }).objectsDeleted, 0);
  });

  it('a dry run deletes nothing and counts what a real run deletes', () => {
    const before = objectNames(fx.repo);
    const dry = prune(fx.repo, { depth: 0, dryRun: true });
    assert.deepEqual(objectNames(fx.repo), before);
    assert.ok(dry.objectsDeleted > 0);
    const real = prune(fx.repo, { depth: 0 });
    assert.deepEqual(real, dry);
  });

  it('keeps all history by default, and unreferenced commits go', async () => {
    assert.equal(prune(fx.repo).objectsDeleted, 0);
    const orphan = await fx.commit(3, { branch: undefined, parent: null });
    const r = prune(fx.repo);
    assert.deepEqual(r.commitsDeleted, [orphan]);
    assert.ok(existsSync(fx.repo.objectPath(c1, ObjectType.COMMIT)));
  });

  it('refsOnly false keeps every commit in the repository', async () => {
    const orphan = await fx.commit(3, { branch: undefined, parent: null });
    assert.equal(prune(fx.repo, { refsOnly: false, depth: 0 }).objectsDeleted, 0);
    assert.ok(existsSync(fx.repo.objectPath(orphan, ObjectType.COMMIT)));
  });

  it('remote refs keep their commits', () => {
    writeRef(fx.repo, 'main', c1, 'origin');
    const r = prune(fx.repo, { depth: 0 });
    assert.equal(r.objectsDeleted, 0);
  });

  it('takes a deleted commit\'s .commitmeta and partial marker with it, and leaves orphan metadata alone', () => {
    writeFileSync(fx.repo.objectPath(c1, ObjectType.COMMIT_META), Buffer.alloc(0));
    writeFileSync(join(fx.repo.path, 'state', `${c1}.commitpartial`), '');
    const orphanMeta = fx.repo.objectPath('d'.repeat(64), ObjectType.COMMIT_META);
    mkdirSync(join(fx.repo.path, 'objects', 'dd'), { recursive: true });
    writeFileSync(orphanMeta, Buffer.alloc(0));
    prune(fx.repo, { depth: 0 });
    assert.ok(!existsSync(fx.repo.objectPath(c1, ObjectType.COMMIT_META)));
    assert.ok(!existsSync(join(fx.repo.path, 'state', `${c1}.commitpartial`)));
    assert.ok(existsSync(orphanMeta), 'ostree does not count or delete orphan .commitmeta');
  });

  it('writes a tombstone for a deleted commit when core.tombstone-commits is set', async () => {
    fx.repo.config.set('core', 'tombstone-commits', 'true');
    prune(fx.repo, { depth: 0 });
    const t = readFileSync(fx.repo.objectPath(c1, ObjectType.TOMBSTONE_COMMIT));
    const [[k, v]] = parse('a{sv}', t) as VarDict;
    assert.equal(k, 'commit');
    assert.equal(Buffer.from(v.value as Uint8Array).toString('latin1'), c1 + '\0');
    assert.equal((await fsck(fx.repo)).ok, true, 'fsck accepts the tombstone');
  });

  it('keepYoungerThan keeps each ref\'s history back to the first older commit', async () => {
    const c3 = await fx.commit(3, { timestamp: 1_800_000_000 });
    const r = prune(fx.repo, { keepYoungerThan: 1_700_000_002 });
    assert.deepEqual(r.commitsDeleted, [c1]);
    assert.ok(existsSync(fx.repo.objectPath(c2, ObjectType.COMMIT)) && existsSync(fx.repo.objectPath(c3, ObjectType.COMMIT)));
    const r2 = prune(fx.repo, { keepYoungerThan: 2_000_000_000 });
    assert.deepEqual(r2.commitsDeleted, [c2], 'the ref\'s own commit stays however old');
  });

  it('removes static deltas whose target commit is gone', () => {
    const dead = join(fx.repo.path, staticDeltaRelPath(undefined, c1));
    const alive = join(fx.repo.path, staticDeltaRelPath(c1, c2));
    for (const d of [dead, alive]) {
      mkdirSync(d, { recursive: true });
      writeFileSync(join(d, 'superblock'), 'x');
    }
    const dry = prune(fx.repo, { depth: 0, dryRun: true });
    assert.deepEqual(dry.deltasDeleted, [c1]);
    assert.ok(existsSync(dead));
    const r = prune(fx.repo, { depth: 0 });
    assert.deepEqual(r.deltasDeleted, [c1]);
    assert.ok(!existsSync(dead));
    assert.ok(existsSync(alive));
  });

  it('deletes nothing when a kept commit has a corrupt or missing dirtree (fails closed)', () => {
    const tree = fx.repo.loadCommit(c2).rootTree;
    const p = fx.repo.objectPath(tree, ObjectType.DIR_TREE);
    const good = readFileSync(p);
    writeFileSync(p, 'garbage');
    const before = objectNames(fx.repo);
    assert.throws(() => prune(fx.repo, { depth: 0 }), (e: unknown) => isCanopyError(e, 'ERR_CHECKSUM_MISMATCH'));
    assert.deepEqual(objectNames(fx.repo), before);
    rmSync(p);
    assert.throws(() => prune(fx.repo, { depth: 0 }), (e: unknown) => isCanopyError(e, 'ERR_OBJECT_NOT_FOUND'));
    assert.equal(objectNames(fx.repo).length, before.length - 1);
    writeFileSync(p, good);
  });

  it('a crash after any number of deletions leaves a repository that passes fsck', async () => {
    const plan = planPrune(fx.repo, { depth: 0 });
    const order = plan.doomed.map((o) => o.type);
    const firstNonCommit = order.findIndex((t) => t !== ObjectType.COMMIT);
    assert.ok(order.slice(firstNonCommit).every((t) => t !== ObjectType.COMMIT), 'commits are deleted first');
    assert.ok(plan.doomed.length > 3);
    // Simulate a crash after each prefix of the plan: delete that prefix by hand, then fsck.
    for (let k = 0; k <= plan.doomed.length; k++) {
      if (k > 0) rmSync(join(fx.repo.path, plan.doomed[k - 1].relPath));
      const r = await fsck(fx.repo);
      assert.equal(r.ok, true, `after ${k} deletions: ${JSON.stringify(r.missing)}`);
    }
  });

  it('refuses a bad depth', () => {
    assert.throws(() => prune(fx.repo, { depth: -2 }), (e: unknown) => isCanopyError(e, 'ERR_INVALID_ARGUMENT'));
    assert.throws(() => prune(fx.repo, { depth: 1.5 }), (e: unknown) => isCanopyError(e, 'ERR_INVALID_ARGUMENT'));
  });

  it('the reachable set it keeps includes the commitmeta of kept commits', () => {
    writeFileSync(fx.repo.objectPath(c2, ObjectType.COMMIT_META), Buffer.alloc(0));
    prune(fx.repo, { depth: 0 });
    assert.ok(reachableObjects(fx.repo, c2).has(objectKey(c2, ObjectType.COMMIT_META)));
    assert.ok(existsSync(fx.repo.objectPath(c2, ObjectType.COMMIT_META)));
  });
});
