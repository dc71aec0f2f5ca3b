import { strict as assert } from 'node:assert';
import { existsSync, lstatSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { canopy, cleanup, commitJson, ensureBuilt, initRepo, makeTree, ok, tempDir } from './cli-harness';

describe('canopy checkout', function () {
  let dir: string;
  let archive: string;
  let bareUser: string;
  before(() => {
    ensureBuilt();
    dir = tempDir();
    const tree = makeTree(dir, false);
    archive = initRepo(dir, 'archive', 'a');
    commitJson(archive, tree, ['-b', 'main']);
    bareUser = initRepo(dir, 'bare-user-only', 'bu');
    commitJson(bareUser, tree, ['-b', 'main']);
  });
  after(cleanup);

  it('checks out a commit from an archive repo into a new directory', () => {
    const dest = join(dir, 'co-archive');
    const j = ok(canopy(['checkout', `--repo=${archive}`, '--json', '--fsync=false', 'main', dest])).json();
    assert.equal(j.dest, dest);
    assert.equal(j.files, 4);
    assert.equal(j.symlinks, 1);
    assert.equal(readFileSync(join(dest, 'hello.txt'), 'utf8'), 'hello\n');
    assert.equal(readlinkSync(join(dest, 'link')), 'hello.txt');
    assert.equal(lstatSync(join(dest, 'usr/bin/tool')).mode & 0o777, 0o755);
    const again = canopy(['checkout', `--repo=${archive}`, '--fsync=false', 'main', dest]);
    assert.equal(again.status, 1, 'an existing destination needs --union');
    assert.match(again.stderr, /^canopy checkout: /);
  });

  it('hardlinks from a bare-user-only repo with -U -H, and checks out a subpath', () => {
    const dest = join(dir, 'co-bu');
    ok(canopy(['checkout', `--repo=${bareUser}`, '-U', '-H', 'main', dest]));
    assert.ok(lstatSync(join(dest, 'etc/os-release')).nlink >= 2, 'hardlinked to the object');
    const sub = join(dir, 'co-sub');
    ok(canopy(['checkout', `--repo=${bareUser}`, '-U', '-C', '--subpath=/usr', 'main', sub]));
    assert.ok(existsSync(join(sub, 'bin/tool')));
    assert.equal(lstatSync(join(sub, 'bin/tool')).nlink, 1, '-C copies');
  });

  it('--union overwrites files, --union-add keeps them', () => {
    const dest = join(dir, 'co-union');
    ok(canopy(['checkout', `--repo=${archive}`, '--fsync=false', 'main', dest]));
    writeFileSync(join(dest, 'hello.txt'), 'local\n');
    ok(canopy(['checkout', `--repo=${archive}`, '--fsync=false', '--union-add', 'main', dest]));
    assert.equal(readFileSync(join(dest, 'hello.txt'), 'utf8'), 'local\n');
    ok(canopy(['checkout', `--repo=${archive}`, '--fsync=false', '--union', 'main', dest]));
    assert.equal(readFileSync(join(dest, 'hello.txt'), 'utf8'), 'hello\n');
  });

  it('refuses contradictory options with exit 2', () => {
    assert.equal(canopy(['checkout', `--repo=${archive}`, '-H', '-C', 'main', join(dir, 'x')]).status, 2);
    assert.equal(canopy(['checkout', `--repo=${archive}`, '--union', '--union-add', 'main', join(dir, 'x')]).status, 2);
    assert.equal(canopy(['checkout', `--repo=${archive}`, '--fsync=maybe', 'main', join(dir, 'x')]).status, 2);
    assert.equal(canopy(['checkout', `--repo=${archive}`, '--subpath=/nope', 'main', join(dir, 'x')]).status, 3);
  });
});
