import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { checksumToMbase64 } from '../../../agent/src/core/bytes';
import { isCanopyError } from '../../../agent/src/core/errors';
import { dictLookup, parse, serialize, variant, type Variant, type VarDict } from '../../../agent/src/gvariant/index';
import { KeyFile } from '../../../agent/src/repo/keyfile';
import { ObjectType, bswap64, parseSummary, summaryLookup, summaryRefTimestamp } from '../../../agent/src/objects/index';
import { writeRef } from '../../../agent/src/repo/refs';
import {
  buildSummary, deltaIndexRelPath, generateSummary, listStaticDeltas, prepareSummary, reindexStaticDeltas, staticDeltaRelPath, writeSummaryFiles,
} from '../../../agent/src/repo/summary-writer';
import { makeRepo, type Fixture } from './maintenance-fixture';

const hexOf = (v: Variant | undefined): string => Buffer.from(v!.value as Uint8Array).toString('hex');
const be = (v: Variant | undefined): number => Number(bswap64(v!.value as bigint));

function addDelta(fx: Fixture, from: string | undefined, to: string, superblock: string): string {
  const d = join(fx.repo.path, staticDeltaRelPath(from, to));
  mkdirSync(d, { recursive: true });
  writeFileSync(join(d, 'superblock'), superblock);
  return createHash('sha256').update(superblock).digest('hex');
}

describe('repo/summary-writer', () => {
  let fx: Fixture;
  let c1: string;
  let c2: string;
  beforeEach(async () => {
    fx = await makeRepo('archive');
    c1 = await fx.commit(1, { branch: 'zeta/stable', metadata: [['version', variant('s', '1.0')]] });
    c2 = await fx.commit(2, { branch: 'alpha' });
  });
  afterEach(() => fx.cleanup());

  it('round-trips through parseSummary with sorted refs, commit sizes, timestamps and versions', () => {
    writeRef(fx.repo, 'beta', c1);
    writeRef(fx.repo, 'remote-only', c1, 'origin');
    const r = generateSummary(fx.repo, { now: 1_234_567_890 });
    assert.equal(r.refs, 3);
    const bytes = readFileSync(join(fx.repo.path, 'summary'));
    assert.ok(bytes.equals(r.bytes));
    const s = parseSummary(bytes);
    assert.deepEqual(s.refs.map((x) => x.name), ['alpha', 'beta', 'zeta/stable'], 'sorted, heads only');
    for (const ref of s.refs) {
      assert.equal(ref.commitSize, statSync(fx.repo.objectPath(ref.commit, ObjectType.COMMIT)).size);
      assert.equal(summaryRefTimestamp(ref), fx.repo.loadCommit(ref.commit).timestamp);
    }
    assert.deepEqual(s.refs.map((x) => x.commit), [c2, c1, c1]);
    assert.equal(dictLookup(s.refs[2].metadata, 'ostree.commit.version')?.value, '1.0');
    assert.equal(dictLookup(s.refs[0].metadata, 'ostree.commit.version'), undefined);
    assert.deepEqual(s.metadata.map(([k]) => k), ['ostree.summary.mode', 'ostree.summary.last-modified', 'ostree.summary.tombstone-commits', 'ostree.summary.indexed-deltas']);
    assert.equal(summaryLookup(s, 'ostree.summary.mode')?.value, 'archive-z2');
    assert.equal(be(summaryLookup(s, 'ostree.summary.last-modified')), 1_234_567_890);
    assert.equal(summaryLookup(s, 'ostree.summary.tombstone-commits')?.value, false);
    assert.equal(summaryLookup(s, 'ostree.summary.indexed-deltas')?.value, true);
  });

  it('adds expires and caller metadata; our keys win a clash', () => {
    const metadata: VarDict = [['foo', variant('s', 'bar')], ['ostree.summary.mode', variant('s', 'lies')], ['foo', variant('s', 'baz')]];
    const s = parseSummary(buildSummary(fx.repo, { metadata, expires: 2_000_000_000 }).bytes);
    assert.equal(be(summaryLookup(s, 'ostree.summary.expires')), 2_000_000_000);
    assert.equal(summaryLookup(s, 'foo')?.value, 'baz');
    assert.equal(summaryLookup(s, 'ostree.summary.mode')?.value, 'archive-z2');
    assert.equal(s.metadata.filter(([k]) => k === 'foo').length, 1);
    assert.throws(() => buildSummary(fx.repo, { expires: -1 }), (e: unknown) => isCanopyError(e, 'ERR_INVALID_ARGUMENT'));
  });

  it('sets core.indexed-deltas in config, as ostree summary -u does', () => {
    assert.equal(fx.repo.config.get('core', 'indexed-deltas'), undefined);
    generateSummary(fx.repo);
    const kf = KeyFile.parse(readFileSync(join(fx.repo.path, 'config'), 'utf8'));
    assert.equal(kf.get('core', 'indexed-deltas'), 'true');
    assert.equal(kf.get('core', 'mode'), 'archive-z2');
  });

  it('lists static deltas with superblock digests, and writes one index per target', () => {
    const dScratch = addDelta(fx, undefined, c2, 'scratch superblock');
    const dFrom = addDelta(fx, c1, c2, 'from superblock');
    mkdirSync(join(fx.repo.path, 'deltas', 'zz', 'not-a-delta'), { recursive: true });
    mkdirSync(join(fx.repo.path, staticDeltaRelPath(c2, c1)), { recursive: true }); // no superblock: ignored
    const deltas = listStaticDeltas(fx.repo);
    assert.deepEqual(deltas.map((d) => d.name).sort(), [`${c1}-${c2}`, c2].sort());
    const r = generateSummary(fx.repo);
    const s = parseSummary(r.bytes);
    const map = summaryLookup(s, 'ostree.static-deltas')!.value as VarDict;
    assert.equal(hexOf(dictLookup(map, c2)), dScratch);
    assert.equal(hexOf(dictLookup(map, `${c1}-${c2}`)), dFrom);
    const idxPath = join(fx.repo.path, deltaIndexRelPath(c2));
    assert.ok(idxPath.includes(checksumToMbase64(c2).slice(2)));
    const idx = parse('a{sv}', readFileSync(idxPath)) as VarDict;
    const inner = dictLookup(idx, 'ostree.static-deltas')!.value as VarDict;
    assert.deepEqual(inner.map(([k]) => k), [c2, `${c1}-${c2}`], 'scratch first, then by from-commit');
    assert.equal(hexOf(dictLookup(inner, c2)), dScratch);
    // Unchanged indexes are left alone; an index without deltas is removed.
    assert.deepEqual(reindexStaticDeltas(fx.repo), { written: 0, removed: 0 });
    const stale = join(fx.repo.path, deltaIndexRelPath(c1));
    mkdirSync(join(stale, '..'), { recursive: true });
    writeFileSync(stale, 'old');
    assert.deepEqual(reindexStaticDeltas(fx.repo), { written: 0, removed: 1 });
    assert.ok(!existsSync(stale));
  });

  it('leaves deltas out of the summary with core.no-deltas-in-summary', () => {
    addDelta(fx, undefined, c2, 'x');
    fx.repo.config.set('core', 'no-deltas-in-summary', 'true');
    assert.equal(summaryLookup(parseSummary(buildSummary(fx.repo).bytes), 'ostree.static-deltas'), undefined);
  });

  it('puts mirrored refs of other collections in the collection map, and its own collection in the main list', () => {
    const mirror = (cid: string, ref: string, c: string): void => {
      mkdirSync(join(fx.repo.path, 'refs/mirrors', cid), { recursive: true });
      writeFileSync(join(fx.repo.path, 'refs/mirrors', cid, ref), c + '\n');
    };
    mirror('org.other.Os', 'b', c1);
    mirror('org.other.Os', 'a', c2);
    mirror('org.example.Os', 'mine', c2);
    fx.repo.config.set('core', 'collection-id', 'org.example.Os');
    const s = parseSummary(buildSummary(fx.repo).bytes);
    assert.deepEqual(s.refs.map((x) => x.name), ['alpha', 'mine', 'zeta/stable']);
    assert.equal(summaryLookup(s, 'ostree.summary.collection-id')?.value, 'org.example.Os');
    const map = summaryLookup(s, 'ostree.summary.collection-map')!;
    assert.equal(map.type, 'a{sa(s(taya{sv}))}');
    const [[cid, refs]] = map.value as [string, [string, unknown][]][];
    assert.equal(cid, 'org.other.Os');
    assert.deepEqual(refs.map(([n]) => n), ['a', 'b']);
  });

  it('publishes summary and summary.sig together, and an unsigned summary removes a stale signature', () => {
    const { bytes } = prepareSummary(fx.repo);
    const sig = serialize('a{sv}', [['ostree.sign.ed25519', variant('aay', [Buffer.alloc(64, 1)])]]);
    writeSummaryFiles(fx.repo, bytes, sig);
    assert.ok(readFileSync(join(fx.repo.path, 'summary')).equals(bytes));
    assert.ok(readFileSync(join(fx.repo.path, 'summary.sig')).equals(sig));
    assert.equal(statSync(join(fx.repo.path, 'summary')).mtimeMs, statSync(join(fx.repo.path, 'summary.sig')).mtimeMs);
    assert.throws(() => writeSummaryFiles(fx.repo, bytes, Buffer.from('not a variant')), (e: unknown) => isCanopyError(e, 'ERR_INVALID_ARGUMENT'));
    assert.ok(readFileSync(join(fx.repo.path, 'summary.sig')).equals(sig), 'a refused signature changes nothing');
    generateSummary(fx.repo);
    assert.ok(!existsSync(join(fx.repo.path, 'summary.sig')));
    assert.deepEqual(leftovers(fx), [], 'no temporary files left behind');
  });

  it('fails with ERR_OBJECT_NOT_FOUND when a ref points at a missing commit', () => {
    writeRef(fx.repo, 'ghost', 'f'.repeat(64));
    assert.throws(() => buildSummary(fx.repo), (e: unknown) => isCanopyError(e, 'ERR_OBJECT_NOT_FOUND'));
  });
});

/** Leftovers of the summary writer in tmp/ or next to the summary. */
function leftovers(fx: Fixture): string[] {
  return [fx.repo.path, fx.repo.tmpDir].flatMap((dir) => readdirSync(dir)).filter((n) => n.startsWith('summary-') || n.includes('.tmp-'));
}
