import { strict as assert } from 'node:assert';
import { isCanopyError } from '../../../agent/src/core/errors';
import { diffEtc, planEtcMerge, type EtcNode, type EtcTree } from '../../../agent/src/sysroot/etc-merge';

const F = 0o100000;
const D = 0o040000;
const L = 0o120000;
const file = (content: string, mode = 0o644, uid = 0): EtcNode & { content: string } => ({ type: 'file', mode: F | mode, uid, gid: 0, size: content.length, content });
const dir = (mode = 0o755): EtcNode => ({ type: 'dir', mode: D | mode, uid: 0, gid: 0, size: 4096 });
const link = (target: string): EtcNode => ({ type: 'symlink', mode: L | 0o777, uid: 0, gid: 0, size: target.length, target });
const fifo = (): EtcNode => ({ type: 'special', mode: 0o010644, uid: 0, gid: 0, size: 0 });
const tree = (o: Record<string, EtcNode>): EtcTree => new Map(Object.entries(o));
const contentOf = (t: EtcTree, p: string): string | undefined => (t.get(p) as { content?: string } | undefined)?.content;
const same = (a: EtcTree, b: EtcTree) => (p: string): boolean => contentOf(a, p) === contentOf(b, p);

function merge(orig: EtcTree, local: EtcTree, fresh: EtcTree) {
  const diff = diffEtc(orig, local, same(orig, local));
  return { diff, plan: planEtcMerge(diff, local, fresh) };
}

describe('sysroot/etc-merge (pure)', function () {
  it('the reference experiment: local edit kept, local delete kept, local file kept, new default appears, untouched follows', function () {
    const orig = tree({ fileA: file('a'), fileB: file('b'), sub: dir(), 'sub/fileC': file('c') });
    const local = tree({ fileA: file('local'), fileD: file('mine'), sub: dir(), 'sub/fileC': file('c') });
    const fresh = tree({ fileA: file('a2'), fileB: file('b'), fileE: file('e'), sub: dir(), 'sub/fileC': file('c2') });
    const { diff, plan } = merge(orig, local, fresh);
    assert.deepEqual(diff, { modified: ['fileA'], removed: ['fileB'], added: ['fileD'] });
    assert.deepEqual(plan.counts, { modified: 1, removed: 1, added: 1 });
    assert.deepEqual(plan.ops, [
      { op: 'remove', path: 'fileB' },
      { op: 'unlink', path: 'fileA' }, { op: 'copy', path: 'fileA' },
      { op: 'copy', path: 'fileD' },
    ]);
  });

  it('mode, owner and symlink-target changes count as modifications; content is compared only when size and attributes match', function () {
    const orig = tree({ m: file('x', 0o644), o: file('x'), l: link('a'), same: file('zz') });
    const local = tree({ m: file('x', 0o600), o: file('x', 0o644, 1000), l: link('b'), same: file('zz') });
    const asked: string[] = [];
    const diff = diffEtc(orig, local, (p) => { asked.push(p); return true; });
    assert.deepEqual(diff.modified.sort(), ['l', 'm', 'o']);
    assert.deepEqual(asked, ['same']);
  });

  it('a type change is a modification and is copied over the new default', function () {
    const orig = tree({ x: file('f') });
    const local = tree({ x: link('elsewhere') });
    const { plan } = merge(orig, local, tree({ x: file('f2') }));
    assert.deepEqual(plan.ops, [{ op: 'unlink', path: 'x' }, { op: 'copy', path: 'x' }]);
  });

  it('a locally added directory is copied whole, once, with its parents created from the local ones', function () {
    const orig = tree({});
    const local = tree({ a: dir(0o700), 'a/b': dir(), 'a/b/f': file('f'), 'a/g': link('b/f') });
    const { diff, plan } = merge(orig, local, tree({}));
    assert.deepEqual(diff.added, ['a', 'a/b', 'a/b/f', 'a/g'], 'a directory, then everything below it');
    assert.deepEqual(plan.ops, [
      { op: 'mkdir', path: 'a' }, { op: 'mkdir', path: 'a/b' }, { op: 'copy', path: 'a/b/f' }, { op: 'copy', path: 'a/g' },
    ]);
  });

  it('a file added under a directory the new defaults lack gets that directory from the local configuration', function () {
    const orig = tree({ d: dir() });
    const local = tree({ d: dir(0o750), 'd/e': dir(), 'd/e/f': file('x') });
    const { plan } = merge(orig, local, tree({}));
    // d is modified (mode) and absent in the new defaults: copied whole; its children then need nothing more.
    assert.deepEqual(plan.ops, [{ op: 'mkdir', path: 'd' }, { op: 'mkdir', path: 'd/e' }, { op: 'copy', path: 'd/e/f' }]);
  });

  it('a changed file in an existing directory gives that directory the local owner and mode (as ostree)', function () {
    const orig = tree({ d: dir(0o755), 'd/f': file('1') });
    const local = tree({ d: dir(0o700), 'd/f': file('2') });
    const { plan } = merge(orig, local, tree({ d: dir(0o755), 'd/f': file('1') }));
    assert.deepEqual(plan.ops, [{ op: 'attrs', path: 'd' }, { op: 'unlink', path: 'd/f' }, { op: 'copy', path: 'd/f' }]);
  });

  it('a locally modified directory changes nothing itself when the new default is also a directory', function () {
    const orig = tree({ d: dir(0o755) });
    const local = tree({ d: dir(0o700) });
    assert.deepEqual(merge(orig, local, tree({ d: dir(0o755) })).plan.ops, []);
  });

  it('a local file where the new default is a directory is a conflict', function () {
    const orig = tree({ x: file('1') });
    const local = tree({ x: file('2') });
    assert.throws(() => merge(orig, local, tree({ x: dir(), 'x/y': file('y') })), (e: unknown) => isCanopyError(e, 'ERR_ETC_MERGE_CONFLICT') && /x/.test((e as Error).message));
  });

  it('a local file below a path the new defaults made a file is a conflict', function () {
    const orig = tree({ d: dir(), 'd/f': file('1') });
    const local = tree({ d: dir(), 'd/f': file('2') });
    assert.throws(() => merge(orig, local, tree({ d: file('now a file') })), (e: unknown) => isCanopyError(e, 'ERR_ETC_MERGE_CONFLICT'));
  });

  it('special files are not copied, but what they replace is removed (as ostree)', function () {
    const orig = tree({ p: file('1') });
    const local = tree({ p: fifo(), q: fifo() });
    const { plan } = merge(orig, local, tree({ p: file('2') }));
    assert.deepEqual(plan.ops, [{ op: 'unlink', path: 'p' }, { op: 'skip', path: 'p' }, { op: 'skip', path: 'q' }]);
  });

  it('a removal under a symlinked directory of the new defaults is skipped, not followed', function () {
    const orig = tree({ d: dir(), 'd/f': file('1') });
    const local = tree({ d: dir() });
    const { plan } = merge(orig, local, tree({ d: link('elsewhere'), 'd/f': file('not really here') }));
    assert.deepEqual(plan.ops, []);
  });

  it('a locally removed directory is removed whole from the new defaults', function () {
    const orig = tree({ d: dir(), 'd/f': file('1') });
    const { plan } = merge(orig, tree({}), tree({ d: dir(), 'd/f': file('1'), 'd/g': file('new') }));
    assert.deepEqual(plan.ops, [{ op: 'remove', path: 'd' }]);
  });
});
