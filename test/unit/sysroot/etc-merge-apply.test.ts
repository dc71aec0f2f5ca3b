/** The /etc merge on disk: what it writes, with owners, modes, symlinks, times and extended attributes. */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, lstatSync, mkdirSync, readFileSync, readlinkSync, symlinkSync, utimesSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { mergeEtc, sameFileContent, snapshotEtc } from '../../../agent/src/sysroot/etc-merge-apply';
import { SysrootFs } from '../../../agent/src/sysroot/sysroot-fs';
import { isRoot, removeScratch, scratch } from './fixture';

const hasAttr = !spawnSync('setfattr', ['--version'], { stdio: 'ignore' }).error;

function put(p: string, content: string, mode = 0o644): void {
  mkdirSync(join(p, '..'), { recursive: true });
  writeFileSync(p, content);
  chmodSync(p, mode);
}

describe('sysroot/etc-merge-apply', function () {
  let tmp: string;
  before(() => { tmp = scratch(); });
  after(() => removeScratch(tmp));

  it('applies local changes over the new defaults', function () {
    const m = join(tmp, 'merge');
    const d = join(tmp, 'new');
    for (const [rel, c] of [['fileA', 'a'], ['fileB', 'b'], ['sub/fileC', 'c'], ['mode', 'm'], ['ln', '']]) {
      if (rel === 'ln') continue;
      put(join(m, 'usr/etc', rel), c);
      put(join(m, 'etc', rel), c);
    }
    symlinkSync('fileA', join(m, 'usr/etc/ln'));
    symlinkSync('fileB', join(m, 'etc/ln'));
    writeFileSync(join(m, 'etc/fileA'), 'local');
    utimesSync(join(m, 'etc/fileA'), new Date(1_000_000_000_000), new Date(1_000_000_000_000));
    spawnSync('rm', [join(m, 'etc/fileB')]);
    chmodSync(join(m, 'etc/mode'), 0o600);
    put(join(m, 'etc/added/deep/file'), 'new dir', 0o640);
    chmodSync(join(m, 'etc/added'), 0o750);
    if (isRoot) chownSync(join(m, 'etc/added/deep/file'), 1234, 5678);
    if (hasAttr) spawnSync('setfattr', ['-n', 'user.canopy', '-v', 'kept', join(m, 'etc/fileA')]);
    const fifo = spawnSync('mkfifo', [join(m, 'etc/fifo')]).status === 0;
    for (const [rel, c] of [['fileA', 'a2'], ['fileB', 'b'], ['sub/fileC', 'c2'], ['mode', 'm'], ['fileE', 'e']]) put(join(d, 'etc', rel), c);
    symlinkSync('fileA', join(d, 'etc/ln'));

    const fs = new SysrootFs({ fsync: false });
    const plan = mergeEtc(fs, m, d, { xattrs: hasAttr });
    assert.deepEqual(plan.counts, { modified: 3, removed: 1, added: 3 + (fifo ? 1 : 0) });
    const e = join(d, 'etc');
    assert.equal(readFileSync(join(e, 'fileA'), 'utf8'), 'local');
    assert.equal(lstatSync(join(e, 'fileA')).mtimeMs, 1_000_000_000_000, 'copies keep their times');
    assert.equal(existsSync(join(e, 'fileB')), false);
    assert.equal(readFileSync(join(e, 'sub/fileC'), 'utf8'), 'c2', 'untouched files follow the new default');
    assert.equal(lstatSync(join(e, 'mode')).mode & 0o7777, 0o600);
    assert.equal(readlinkSync(join(e, 'ln')), 'fileB');
    assert.equal(readFileSync(join(e, 'fileE'), 'utf8'), 'e');
    assert.equal(lstatSync(join(e, 'added')).mode & 0o7777, 0o750);
    assert.equal(lstatSync(join(e, 'added/deep/file')).mode & 0o7777, 0o640);
    if (isRoot) assert.deepEqual([lstatSync(join(e, 'added/deep/file')).uid, lstatSync(join(e, 'added/deep/file')).gid], [1234, 5678]);
    assert.equal(existsSync(join(e, 'fifo')), false, 'special files are not copied');
    if (hasAttr) assert.match(spawnSync('getfattr', ['-n', 'user.canopy', '--only-values', join(e, 'fileA')], { encoding: 'utf8' }).stdout, /^kept$/);
    assert.ok(fs.ops > 0);
  });

  it('compares contents by bytes, and hardlinks as equal without reading', function () {
    put(join(tmp, 'c/x'), 'same');
    put(join(tmp, 'c/y'), 'same');
    put(join(tmp, 'c/z'), 'diff');
    assert.equal(sameFileContent(join(tmp, 'c/x'), join(tmp, 'c/y')), true);
    assert.equal(sameFileContent(join(tmp, 'c/x'), join(tmp, 'c/z')), false);
    assert.equal(snapshotEtc(join(tmp, 'nope')).size, 0);
  });
});
