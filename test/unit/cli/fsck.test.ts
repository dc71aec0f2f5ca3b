import { strict as assert } from 'node:assert';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { canopy, cleanup, commitJson, ensureBuilt, initRepo, makeTree, ok, tempDir } from './cli-harness';

describe('canopy fsck', function () {
  let dir: string;
  let tree: string;
  before(() => {
    ensureBuilt();
    dir = tempDir();
    tree = makeTree(dir, false);
  });
  after(cleanup);

  const objectFiles = (repo: string, ext: string): string[] => {
    const out: string[] = [];
    for (const d of readdirSync(join(repo, 'objects'))) for (const f of readdirSync(join(repo, 'objects', d))) if (f.endsWith(ext)) out.push(join(repo, 'objects', d, f));
    return out;
  };

  it('verifies a repository large enough for the worker threads, and finds a corrupt object there (regression: a silent exit 0)', () => {
    const big = join(dir, 'many');
    mkdirSync(big);
    for (let i = 0; i < 300; i++) writeFileSync(join(big, `f-${i}.txt`), `file ${i}\n`.repeat(i + 1));
    const repo = initRepo(dir, 'archive', 'many-repo');
    commitJson(repo, big, ['-b', 'main']);
    const r = ok(canopy(['fsck', `--repo=${repo}`]));
    assert.match(r.stdout, /\((30\d) objects\) completed successfully/);
    const victim = objectFiles(repo, '.filez')[150];
    writeFileSync(victim, Buffer.concat([readFileSync(victim).subarray(0, -2), Buffer.from([0x00, 0x00])]));
    const bad = canopy(['fsck', `--repo=${repo}`, '--json']);
    assert.equal(bad.status, 4);
    assert.equal(bad.json().corrupt.length, 1);
  });

  it('passes a healthy repository', () => {
    const repo = initRepo(dir, 'archive', 'good');
    commitJson(repo, tree, ['-b', 'main']);
    const r = ok(canopy(['fsck', `--repo=${repo}`]));
    assert.match(r.stdout, /object fsck of 1 commits \(\d+ objects\) completed successfully - no errors found\./);
    const j = ok(canopy(['fsck', `--repo=${repo}`, '--json'])).json();
    assert.equal(j.ok, true);
    assert.equal(j.commits, 1);
    assert.deepEqual([j.corrupt, j.missing], [[], []]);
    assert.equal(ok(canopy(['fsck', `--repo=${repo}`, '-q'])).stdout, '');
  });

  it('exits 4 and names the objects when one is corrupt or missing', () => {
    const repo = initRepo(dir, 'archive', 'bad');
    commitJson(repo, tree, ['-b', 'main']);
    const [victim, ...rest] = objectFiles(repo, '.filez');
    writeFileSync(victim, 'garbage');
    rmSync(objectFiles(repo, '.dirmeta')[0]);
    assert.ok(rest.length > 0);
    const r = canopy(['fsck', `--repo=${repo}`]);
    assert.equal(r.status, 4);
    assert.match(r.stderr, /corrupt object objects\/[0-9a-f]{2}\/[0-9a-f]{62}\.filez: /);
    assert.match(r.stderr, /missing object [0-9a-f]{64}\.dirmeta/);
    assert.match(r.stderr, /canopy fsck: repository corruption: 1 corrupt, 1 missing objects/);
    const j = canopy(['fsck', `--repo=${repo}`, '--json']);
    assert.equal(j.status, 4);
    assert.equal(j.json().ok, false, 'the report itself is the JSON document');
    assert.equal(j.json().corrupt.length, 1);
  });
});
