import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { commitVersion, ObjectType, parseSummary } from '../../../agent/src/objects/index';
import { listStaticDeltas, readRef, Repo } from '../../../agent/src/repo/index';
import { ED25519_SIGNATURES_KEY, Ed25519KeySet, ed25519KeyPairFromSeed, getSignatures, parseDetachedMetadata, verifyEd25519 } from '../../../agent/src/sign/index';
import { defaultRolloutId, publishRelease } from '../../../agent/src/fleet/index';

const key = ed25519KeyPairFromSeed(Buffer.alloc(32, 5));
const keys = { ed25519: [key.secretKey] };
const hasOstree = spawnSync('ostree', ['--version']).status === 0;

function tree(dir: string, version: string): string {
  const t = join(dir, `tree-${version}`);
  mkdirSync(join(t, 'usr/bin'), { recursive: true });
  writeFileSync(join(t, 'usr/bin/app'), `#!/bin/sh\necho app ${version}\n${'x'.repeat(20_000)}\n`);
  writeFileSync(join(t, 'usr/lib-version'), `${version}\n`);
  writeFileSync(join(t, 'usr/big'), Buffer.alloc(50_000, 7));
  return t;
}

describe('fleet/publish (without a broker)', () => {
  let dir: string;
  let repo: Repo;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'canopy-publish-'));
    repo = Repo.init(join(dir, 'repo'), { mode: 'archive' });
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('commits with the version, signs, summarises; the same tree again makes nothing new', async () => {
    const t1 = tree(dir, '1.0');
    const r1 = await publishRelease({ repo, branch: 'acme/os', tree: t1, version: '1.0', keys, now: 1_700_000_000_000 });
    assert.equal(r1.created, true);
    assert.equal(readRef(repo, 'acme/os'), r1.commit);
    assert.equal(commitVersion(repo.loadCommit(r1.commit)), '1.0');
    const sigs = getSignatures(parseDetachedMetadata(repo.readCommitMeta(r1.commit)!), ED25519_SIGNATURES_KEY);
    assert.equal(sigs.length, 1);
    assert.doesNotThrow(() => verifyEd25519(sigs, repo.readMetadataBytes(ObjectType.COMMIT, r1.commit), new Ed25519KeySet([key.publicKey])));
    const summary = parseSummary(readFileSync(join(repo.path, 'summary')));
    assert.deepEqual(summary.refs.map((r) => [r.name, r.commit]), [['acme/os', r1.commit]]);
    assert.equal(r1.summary.signed, true);
    const again = await publishRelease({ repo, branch: 'acme/os', tree: t1, version: '1.0', keys, now: 1_700_000_100_000 });
    assert.equal(again.created, false);
    assert.equal(again.commit, r1.commit);
    assert.deepEqual(again.signatures.map((s) => s.added), [false]);
  });

  it('makes deltas from given revisions and keeps them on a re-run; missing fleet commits are skipped', async () => {
    const r1 = await publishRelease({ repo, branch: 'acme/os', tree: tree(dir, '1.0'), version: '1.0', keys, now: 1_700_000_000_000 });
    const t2 = tree(dir, '2.0');
    const r2 = await publishRelease({ repo, branch: 'acme/os', tree: t2, version: '2.0', keys, deltaFrom: ['acme/os'], fleetCommits: ['e'.repeat(64)], now: 1_700_000_200_000 });
    assert.notEqual(r2.commit, r1.commit);
    assert.equal(repo.loadCommit(r2.commit).parent, r1.commit);
    const byFrom = Object.fromEntries(r2.deltas.map((d) => [d.from, d.status]));
    assert.equal(byFrom[r1.commit], 'generated');
    assert.equal(byFrom['e'.repeat(64)], 'skipped');
    assert.deepEqual(listStaticDeltas(repo).map((d) => d.name), [`${r1.commit}-${r2.commit}`]);
    const summary = parseSummary(readFileSync(join(repo.path, 'summary')));
    assert.ok(summary.metadata.some(([k]) => k === 'ostree.static-deltas'), 'the summary lists the delta');
    const again = await publishRelease({ repo, branch: 'acme/os', tree: t2, version: '2.0', keys, deltaFrom: [r1.commit], now: 1_700_000_300_000 });
    assert.deepEqual(again.deltas.map((d) => d.status), ['kept']);
    if (hasOstree) {
      const list = spawnSync('ostree', [`--repo=${repo.path}`, 'static-delta', 'list'], { encoding: 'utf8' });
      assert.match(list.stdout, new RegExp(`${r1.commit}-${r2.commit}`));
    }
  });

  it('publishes an existing commit by revision and refuses bad input', async () => {
    const r1 = await publishRelease({ repo, branch: 'acme/os', tree: tree(dir, '1.0'), version: '1.0', keys, now: 1_700_000_000_000 });
    const r = await publishRelease({ repo, branch: 'acme/other', rev: 'acme/os', keys, now: 1_700_000_000_000 });
    assert.deepEqual([r.commit, r.version, readRef(repo, 'acme/other')], [r1.commit, '1.0', r1.commit]);
    await assert.rejects(publishRelease({ repo, branch: 'acme/os', tree: tree(dir, '3'), keys, now: 0 }), /version is needed/);
    await assert.rejects(publishRelease({ repo, branch: 'acme/os', rev: 'nope', keys, now: 0 }), (e: { code?: string }) => e.code === 'ERR_REF_NOT_FOUND');
    await assert.rejects(publishRelease({ repo, branch: 'acme/os', tree: tree(dir, '4'), version: '4', deltaFrom: ['f'.repeat(64)], keys, now: 0 }), (e: { code?: string }) => e.code === 'ERR_OBJECT_NOT_FOUND');
  });

  it('makes rollout ids that are valid names', () => {
    assert.equal(defaultRolloutId('stable', '2.1', 'ab'.repeat(32)), 'stable-2.1-abababab');
    assert.equal(defaultRolloutId('stable', '2.1 beta/3', 'ab'.repeat(32)), 'stable-2.1-beta-3-abababab');
    assert.ok(defaultRolloutId('s', 'v'.repeat(300), 'ab'.repeat(32)).length <= 128);
  });
});
