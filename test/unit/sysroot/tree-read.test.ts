import { strict as assert } from 'node:assert';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isCanopyError } from '../../../agent/src/core/errors';
import { readInTree, resolveInTree } from '../../../agent/src/sysroot/tree-read';
import { removeScratch, scratch } from './fixture';

describe('sysroot/tree-read', function () {
  let t: string;
  before(() => {
    t = scratch();
    mkdirSync(join(t, 'usr/lib'), { recursive: true });
    mkdirSync(join(t, 'etc'), { recursive: true });
    writeFileSync(join(t, 'usr/lib/os-release'), 'ID=inside\n');
    symlinkSync('/usr/lib/os-release', join(t, 'etc/os-release'));
    symlinkSync('../../../../../../etc/passwd', join(t, 'etc/escape'));
    symlinkSync('loop2', join(t, 'etc/loop1'));
    symlinkSync('loop1', join(t, 'etc/loop2'));
  });
  after(() => removeScratch(t));

  it('absolute symlinks resolve inside the tree', function () {
    assert.equal(readInTree(t, 'etc/os-release', 1024), 'ID=inside\n');
  });

  it('.. stops at the tree root', function () {
    assert.equal(resolveInTree(t, 'etc/escape'), undefined, 'etc/passwd does not exist inside the tree');
    writeFileSync(join(t, 'etc/passwd'), 'tree-local\n');
    assert.equal(readInTree(t, 'etc/escape', 1024), 'tree-local\n');
  });

  it('symlink loops and oversized files are errors; missing files are undefined', function () {
    assert.throws(() => resolveInTree(t, 'etc/loop1'), (e: unknown) => isCanopyError(e, 'ERR_UNSAFE_PATH'));
    assert.throws(() => readInTree(t, 'usr/lib/os-release', 3), (e: unknown) => isCanopyError(e, 'ERR_INVALID_ARGUMENT'));
    assert.equal(readInTree(t, 'nope/x', 10), undefined);
  });
});
