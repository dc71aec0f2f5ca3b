import { strict as assert } from 'node:assert';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { canopy, cleanup, commitJson, ensureBuilt, initRepo, makeTree, ok, tempDir } from './cli-harness';

describe('canopy prune', function () {
  before(() => ensureBuilt());
  after(cleanup);

  it('deletes what no ref reaches with --refs-only, reports with --no-prune first', () => {
    const dir = tempDir();
    const tree = makeTree(dir, false);
    const repo = initRepo(dir, 'archive');
    commitJson(repo, tree, ['-b', 'main']);
    writeFileSync(join(tree, 'hello.txt'), 'changed\n');
    const old = commitJson(repo, tree, ['-b', 'side', '--timestamp=@1600000000']).checksum;
    ok(canopy(['refs', `--repo=${repo}`, '--delete', 'side']));

    const plain = ok(canopy(['prune', `--repo=${repo}`])).stdout;
    assert.match(plain, /^Total objects: \d+\nNo unreachable objects\n$/, 'without --refs-only every commit is kept');
    const dry = ok(canopy(['prune', `--repo=${repo}`, '--json', '--refs-only', '--no-prune'])).json();
    assert.equal(dry.dryRun, true);
    assert.equal(dry.objectsDeleted, 3, 'the side commit, its root dirtree and the changed file');
    assert.ok(dry.commitsDeleted.includes(old));
    assert.equal(ok(canopy(['rev-parse', `--repo=${repo}`, old])).status, 0);
    const real = ok(canopy(['prune', `--repo=${repo}`, '--refs-only'])).stdout;
    assert.match(real, /^Total objects: \d+\nDeleted \d+ objects, [\d.]+ (bytes|kB) freed\n$/);
    assert.equal(canopy(['log', `--repo=${repo}`, old]).status, 3);
    assert.match(ok(canopy(['fsck', `--repo=${repo}`])).stdout, /no errors found/);
  });

  it('--depth and --keep-younger-than bound history; bad values exit 2', () => {
    const dir = tempDir();
    const tree = makeTree(dir, false);
    const repo = initRepo(dir, 'archive');
    const a = commitJson(repo, tree, ['-b', 'main', '--timestamp=2020-01-01T00:00:00Z']).checksum;
    const b = commitJson(repo, tree, ['-b', 'main', '--timestamp=2021-01-01T00:00:00Z']).checksum;
    commitJson(repo, tree, ['-b', 'main', '--timestamp=2022-01-01T00:00:00Z']);
    const j = ok(canopy(['prune', `--repo=${repo}`, '--json', '--keep-younger-than=2020-06-01', '--dry-run'])).json();
    assert.deepEqual(j.commitsDeleted, [a]);
    const d = ok(canopy(['prune', `--repo=${repo}`, '--json', '--refs-only', '--depth=0'])).json();
    assert.deepEqual(d.commitsDeleted.sort(), [a, b].sort());
    assert.equal(canopy(['prune', `--repo=${repo}`, '--depth=x']).status, 2);
    assert.equal(canopy(['prune', `--repo=${repo}`, '--depth=-2']).status, 2);
    assert.equal(canopy(['prune', `--repo=${repo}`, '--keep-younger-than=whenever']).status, 2);
  });
});
