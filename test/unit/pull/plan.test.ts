import { strict as assert } from 'node:assert';
import { sha256Hex } from '../../../agent/src/core/bytes';
import { isCanopyError } from '../../../agent/src/core/errors';
import { variant } from '../../../agent/src/gvariant/index';
import { ObjectType, type Commit, type DirTree } from '../../../agent/src/objects/index';
import {
  backoffMs, checkNotDowngrade, checkRefBinding, isTransientStatus, needsSummary, parseContentRange, parseRefRequest,
  parseRemoteRefFile, scanDirTree, summaryRef,
} from '../../../agent/src/pull/plan';

const c = (n: number): string => sha256Hex(Buffer.from([n]));
const commit = (over: Partial<Commit> = {}): Commit => ({
  metadata: [], related: [], subject: '', body: '', timestamp: 1000, rootTree: c(1), rootMeta: c(2), ...over,
});
const code = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    assert.ok(isCanopyError(e), String(e));
    return e.code;
  }
  return 'ok';
};

describe('pull/plan', () => {
  it('parses REF, REF@COMMIT and a bare commit', () => {
    assert.deepEqual(parseRefRequest('os/main'), { ref: 'os/main' });
    assert.deepEqual(parseRefRequest(`os/main@${c(1)}`), { ref: 'os/main', commit: c(1) });
    assert.deepEqual(parseRefRequest(c(2)), { commit: c(2) });
    assert.equal(code(() => parseRefRequest('os/main@abc')), 'ERR_CHECKSUM_INVALID');
    assert.equal(code(() => parseRefRequest('../x')), 'ERR_REF_INVALID');
    assert.equal(needsSummary([{ ref: 'a', commit: c(1) }]), false);
    assert.equal(needsSummary([{ ref: 'a', commit: c(1) }, { ref: 'b' }]), true);
  });

  it('finds refs in a sorted summary by binary search', () => {
    const names = ['a', 'a/b', 'b', 'os/main', 'z'];
    const s = { refs: names.map((name, i) => ({ name, commit: c(i), commitSize: i, metadata: [] })), metadata: [] };
    for (const [i, n] of names.entries()) assert.equal(summaryRef(s, n)?.commit, c(i));
    assert.equal(summaryRef(s, 'os'), undefined);
    assert.equal(summaryRef({ refs: [], metadata: [] }, 'a'), undefined);
  });

  it('reads a remote ref file strictly', () => {
    assert.equal(parseRemoteRefFile(` ${c(3)}\n`, 'x'), c(3));
    assert.equal(code(() => parseRemoteRefFile('<html>not found</html>', 'x')), 'ERR_CHECKSUM_INVALID');
  });

  it('checks ref and collection bindings as OSTree does', () => {
    const bound = commit({ metadata: [['ostree.ref-binding', variant('as', ['os/main', 'os/stable'])]] });
    assert.equal(code(() => checkRefBinding(bound, c(9), 'os/main')), 'ok');
    assert.equal(code(() => checkRefBinding(bound, c(9), 'os/devel')), 'ERR_REF_BINDING');
    assert.equal(code(() => checkRefBinding(bound, c(9), undefined)), 'ok', 'a bare commit pull names no ref');
    assert.equal(code(() => checkRefBinding(commit(), c(9), 'anything')), 'ok', 'no binding: any ref');
    assert.equal(code(() => checkRefBinding(commit(), c(9), 'os/main', 'org.example.Os')), 'ERR_REF_BINDING', 'a collection needs bindings');
    const both = commit({ metadata: [['ostree.ref-binding', variant('as', ['os/main'])], ['ostree.collection-binding', variant('s', 'org.example.Os')]] });
    assert.equal(code(() => checkRefBinding(both, c(9), 'os/main', 'org.example.Os')), 'ok');
    assert.equal(code(() => checkRefBinding(both, c(9), 'os/main', 'org.other')), 'ERR_REF_BINDING');
    const wrongType = commit({ metadata: [['ostree.ref-binding', variant('s', 'os/main')]] });
    assert.equal(code(() => checkRefBinding(wrongType, c(9), 'os/main')), 'ERR_REF_BINDING');
  });

  it('refuses an older commit for a ref unless allowed', () => {
    const cur = { checksum: c(1), commit: commit({ timestamp: 2000 }) };
    const older = { checksum: c(2), commit: commit({ timestamp: 1000 }) };
    const same = { checksum: c(3), commit: commit({ timestamp: 2000 }) };
    assert.equal(code(() => checkNotDowngrade(older, cur, 'os/main', false)), 'ERR_DOWNGRADE');
    assert.equal(code(() => checkNotDowngrade(older, cur, 'os/main', true)), 'ok');
    assert.equal(code(() => checkNotDowngrade(same, cur, 'os/main', false)), 'ok');
    assert.equal(code(() => checkNotDowngrade(cur, cur, 'os/main', false)), 'ok');
    assert.equal(code(() => checkNotDowngrade(older, undefined, 'os/main', false)), 'ok');
  });

  it('scans a dirtree for missing objects, once each, and every subtree', () => {
    const tree: DirTree = {
      files: [{ name: 'a', checksum: c(10) }, { name: 'b', checksum: c(11) }, { name: 'c', checksum: c(10) }],
      dirs: [{ name: 'd', tree: c(20), meta: c(30) }, { name: 'e', tree: c(20), meta: c(31) }],
    };
    const stored = new Set([`${ObjectType.FILE}:${c(11)}`, `${ObjectType.DIR_META}:${c(31)}`]);
    const seen = new Set<string>();
    const r = scanDirTree(tree, (t, x) => stored.has(`${t}:${x}`), seen);
    assert.deepEqual(r.fetch, [{ type: ObjectType.DIR_META, checksum: c(30) }, { type: ObjectType.FILE, checksum: c(10) }]);
    assert.deepEqual(r.subtrees, [{ tree: c(20) }], 'a stored or shared subtree is still scanned, once');
    assert.deepEqual(scanDirTree(tree, () => false, seen), { fetch: [], subtrees: [] }, 'nothing twice');
  });

  it('skips the directories a complete base tree has unchanged at the same name', () => {
    const tree: DirTree = {
      files: [{ name: 'f', checksum: c(10) }],
      dirs: [
        { name: 'same', tree: c(20), meta: c(30) },
        { name: 'changed', tree: c(21), meta: c(30) },
        { name: 'new', tree: c(22), meta: c(31) },
        { name: 'moved', tree: c(23), meta: c(30) },
      ],
    };
    const base: DirTree = {
      files: [],
      dirs: [{ name: 'same', tree: c(20), meta: c(30) }, { name: 'changed', tree: c(40), meta: c(30) }, { name: 'elsewhere', tree: c(23), meta: c(30) }],
    };
    const seen = new Set<string>();
    const r = scanDirTree(tree, () => false, seen, base);
    assert.deepEqual(r.subtrees, [{ tree: c(21), base: c(40) }, { tree: c(22) }, { tree: c(23) }], 'changed: paired with the base; new or moved: scanned in full');
    assert.ok(seen.has(`${ObjectType.DIR_TREE}:${c(20)}`), 'the unchanged tree counts as seen, so no other path scans it');
    assert.deepEqual(r.fetch.map((o) => o.checksum), [c(30), c(31), c(10)], 'dirmetas and files are still looked up');
    // Without a base the same tree is scanned everywhere.
    assert.deepEqual(scanDirTree(tree, () => false, new Set()).subtrees.map((t) => t.tree), [c(20), c(21), c(22), c(23)]);
  });

  it('retries only transient statuses, with bounded jittered backoff', () => {
    for (const s of [500, 502, 503, 504, 408, 429]) assert.equal(isTransientStatus(s), true, String(s));
    for (const s of [200, 301, 400, 401, 403, 404, 416]) assert.equal(isTransientStatus(s), false, String(s));
    assert.equal(backoffMs(0, 100, 5000, () => 1), 100);
    assert.equal(backoffMs(3, 100, 5000, () => 1), 800);
    assert.equal(backoffMs(20, 100, 5000, () => 1), 5000);
    assert.equal(backoffMs(3, 100, 5000, () => 0), 1);
    assert.equal(backoffMs(3, 100, 5000, () => 0.5), 400);
  });

  it('parses Content-Range', () => {
    assert.deepEqual(parseContentRange('bytes 100-199/200'), { start: 100, end: 199, total: 200 });
    assert.deepEqual(parseContentRange('bytes 0-9/*'), { start: 0, end: 9, total: undefined });
    for (const bad of [undefined, 'bytes 5-4/10', 'bytes 0-10/10', 'items 0-1/2', 'bytes */10']) assert.equal(parseContentRange(bad), undefined, String(bad));
  });
});
