import { strict as assert } from 'node:assert';
import { lstatSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { canopy, cleanup, commitJson, ensureBuilt, initRepo, makeTree, ok, tempDir } from './cli-harness';

describe('canopy refs', function () {
  let dir: string;
  let tree: string;
  before(() => {
    ensureBuilt();
    dir = tempDir();
    tree = makeTree(dir, false);
  });
  after(cleanup);

  const setup = (name: string): { repo: string; c: string } => {
    const repo = initRepo(dir, 'archive', name);
    const c = commitJson(repo, tree, ['-b', 'x/y/z']).checksum;
    commitJson(repo, tree, ['-b', 'x/w']);
    commitJson(repo, tree, ['-b', 'top']);
    return { repo, c };
  };

  it('lists refs sorted; a prefix lists what is under it, without the prefix unless --list', () => {
    const { repo } = setup('list');
    const refs = (...args: string[]): string => ok(canopy(['refs', `--repo=${repo}`, ...args])).stdout;
    assert.equal(refs(), 'top\nx/w\nx/y/z\n');
    assert.equal(refs('x'), 'w\ny/z\n');
    assert.equal(refs('--list', 'x'), 'x/w\nx/y/z\n');
    assert.equal(refs('x/y'), 'z\n');
    assert.equal(refs('top'), 'top\n');
    assert.equal(refs('nothing'), '');
    const j = ok(canopy(['refs', `--repo=${repo}`, '--json'])).json();
    assert.deepEqual(j.refs.map((r: { ref: string }) => r.ref), ['top', 'x/w', 'x/y/z']);
    assert.match(j.refs[0].checksum, /^[0-9a-f]{64}$/);
  });

  it('--create points a new ref at a revision, refusing to overwrite without --force', () => {
    const { repo, c } = setup('create');
    assert.deepEqual(ok(canopy(['refs', `--repo=${repo}`, '--json', '--create=stable', 'x/y/z'])).json(), { ref: 'stable', checksum: c });
    const again = canopy(['refs', `--repo=${repo}`, '--json', '--create=stable', 'top']);
    assert.equal(again.status, 1);
    assert.equal(again.json().error.code, 'ERR_REF_EXISTS');
    ok(canopy(['refs', `--repo=${repo}`, '--force', '--create=stable', 'top']));
    assert.notEqual(ok(canopy(['rev-parse', `--repo=${repo}`, 'stable'])).stdout, `${c}\n`);
    ok(canopy(['refs', `--repo=${repo}`, '--create=origin:main', c]));
    assert.equal(ok(canopy(['refs', `--repo=${repo}`, 'origin:'])).stdout, 'main\n');
    assert.equal(ok(canopy(['rev-parse', `--repo=${repo}`, 'origin:main'])).stdout, `${c}\n`);
    assert.equal(canopy(['refs', `--repo=${repo}`, '--create=new', '0'.repeat(64)]).status, 3, 'a commit that is not there');
    assert.equal(canopy(['refs', `--repo=${repo}`, '--create=new']).status, 2);
  });

  it('--create with --alias makes a relative symlink ref; -A lists aliases', () => {
    const { repo, c } = setup('alias');
    assert.deepEqual(ok(canopy(['refs', `--repo=${repo}`, '--json', '--create=stable', '-A', 'x/y/z'])).json(), { ref: 'stable', checksum: c, aliasOf: 'x/y/z' });
    const link = join(repo, 'refs/heads/stable');
    assert.ok(lstatSync(link).isSymbolicLink());
    assert.equal(readlinkSync(link), 'x/y/z');
    assert.equal(ok(canopy(['refs', `--repo=${repo}`, '-A'])).stdout, 'stable -> x/y/z\n');
    assert.equal(ok(canopy(['rev-parse', `--repo=${repo}`, 'stable'])).stdout, `${c}\n`);
    // an alias can be repointed without --force
    ok(canopy(['refs', `--repo=${repo}`, '--create=stable', '--alias', 'top']));
    assert.equal(ok(canopy(['refs', `--repo=${repo}`, '-A'])).stdout, 'stable -> top\n');
    assert.equal(canopy(['refs', `--repo=${repo}`, '--create=a2', '--alias', 'nope']).status, 3);
  });

  it('--delete removes matching refs, refuses a ref with an alias and a prefix that matches nothing', () => {
    const { repo } = setup('delete');
    assert.equal(canopy(['refs', `--repo=${repo}`, '--delete']).status, 2);
    ok(canopy(['refs', `--repo=${repo}`, '--create=cur', '-A', 'top']));
    const blocked = canopy(['refs', `--repo=${repo}`, '--delete', 'top']);
    assert.equal(blocked.status, 1);
    assert.match(blocked.stderr, /ref top has an alias cur; delete the alias first/);
    assert.deepEqual(ok(canopy(['refs', `--repo=${repo}`, '--json', '--delete', 'x'])).json().deleted.sort(), ['x/w', 'x/y/z']);
    ok(canopy(['refs', `--repo=${repo}`, '--delete', 'cur', 'top']));
    assert.equal(ok(canopy(['refs', `--repo=${repo}`])).stdout, '');
    assert.equal(canopy(['refs', `--repo=${repo}`, '--delete', 'gone']).status, 3);
  });
});
