import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ObjectType } from '../../../agent/src/objects/index';
import { commitTree, generateSummary, Repo } from '../../../agent/src/repo/index';
import {
  ED25519_SIGNATURES_KEY, Ed25519KeySet, GPG_SIGNATURES_KEY, ed25519KeyPairFromSeed, getSignatures, parseDetachedMetadata, verifyEd25519,
} from '../../../agent/src/sign/index';
import { publishSummary, signCommit } from '../../../agent/src/fleet/index';
import { gpgOracle, hasGpg } from '../sign/gpg-oracle';

const hasOstree = spawnSync('ostree', ['--version']).status === 0;
const k1 = ed25519KeyPairFromSeed(Buffer.alloc(32, 1));
const k2 = ed25519KeyPairFromSeed(Buffer.alloc(32, 2));

describe('fleet: signing commits and summaries', () => {
  let dir: string;
  let repo: Repo;
  let commit: string;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'canopy-fleet-sign-'));
    mkdirSync(join(dir, 'tree'));
    writeFileSync(join(dir, 'tree', 'hello'), 'hello\n');
    repo = Repo.init(join(dir, 'repo'), { mode: 'archive' });
    commit = (await commitTree(repo, join(dir, 'tree'), { branch: 'os', subject: 's', timestamp: 1_700_000_000 })).checksum;
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const sigs = (key: string): Uint8Array[] => getSignatures(parseDetachedMetadata(repo.readCommitMeta(commit)!), key);
  const commitBytes = (): Buffer => repo.readMetadataBytes(ObjectType.COMMIT, commit);

  it('appends ed25519 signatures over the commit bytes, once per key, keeping what is there', async () => {
    const r1 = await signCommit(repo, commit, { ed25519: [k1.secretKey] });
    assert.deepEqual(r1.outcomes.map((o) => o.added), [true]);
    assert.equal(sigs(ED25519_SIGNATURES_KEY).length, 1);
    assert.doesNotThrow(() => verifyEd25519(sigs(ED25519_SIGNATURES_KEY), commitBytes(), new Ed25519KeySet([k1.publicKey])));
    const before = repo.readCommitMeta(commit)!;
    const again = await signCommit(repo, commit, { ed25519: [k1.secretKey] });
    assert.equal(again.written, false, 'the same key signs nothing twice');
    assert.ok(repo.readCommitMeta(commit)!.equals(before));
    await signCommit(repo, commit, { ed25519: [k1.secretKey, k2.secretKey] });
    assert.equal(sigs(ED25519_SIGNATURES_KEY).length, 2);
    assert.doesNotThrow(() => verifyEd25519(sigs(ED25519_SIGNATURES_KEY), commitBytes(), new Ed25519KeySet([k2.publicKey])));
  });

  it('refuses a commit that is not there and a malformed key', async () => {
    await assert.rejects(signCommit(repo, 'f'.repeat(64), { ed25519: [k1.secretKey] }), (e: { code?: string }) => e.code === 'ERR_OBJECT_NOT_FOUND');
    await assert.rejects(signCommit(repo, commit, { ed25519: [Buffer.alloc(64, 1)] }), (e: { code?: string }) => e.code === 'ERR_INVALID_ARGUMENT');
    await assert.rejects(signCommit(repo, commit, {}), /no signing key/);
  });

  it('publishes a signed summary: summary.sig verifies over the summary bytes; unsigned removes it', async () => {
    const r = await publishSummary(repo, { ed25519: [k1.secretKey] }, { now: 1_700_000_100 });
    const summary = readFileSync(join(repo.path, 'summary'));
    assert.ok(summary.equals(r.bytes));
    const md = parseDetachedMetadata(readFileSync(join(repo.path, 'summary.sig')));
    assert.doesNotThrow(() => verifyEd25519(getSignatures(md, ED25519_SIGNATURES_KEY), summary, new Ed25519KeySet([k1.publicKey])));
    generateSummary(repo, { now: 1_700_000_200 });
    assert.equal(existsSync(join(repo.path, 'summary.sig')), false);
    const unsigned = await publishSummary(repo, {}, { now: 1_700_000_300 });
    assert.deepEqual(unsigned.outcomes, []);
  });

  describe('OpenPGP (oracles: gpg and ostree)', function () {
    before(function () {
      if (!hasGpg()) {
        console.log('    (skipped: gpg is not installed; Debian package gnupg)');
        this.skip();
      }
    });

    it('adds one gpg signature per key (a second run adds none); gpg and ostree show accept it', async function () {
      this.timeout(60_000);
      const g = await gpgOracle();
      const key = await g.exportSecret('A');
      await signCommit(repo, commit, { openpgp: [{ key }] });
      await signCommit(repo, commit, { openpgp: [{ key }] });
      const list = sigs(GPG_SIGNATURES_KEY);
      assert.equal(list.length, 1);
      const v = await g.verify(list[0], commitBytes());
      assert.ok(v.status.some((l) => l.includes('GOODSIG')), v.status.join('\n'));
      const withP = await signCommit(repo, commit, { openpgp: [{ key: await g.exportSecret('P'), passphrase: 'hunter2' }] });
      assert.equal(withP.written, true);
      assert.equal(sigs(GPG_SIGNATURES_KEY).length, 2);
      if (hasOstree) {
        const home = join(dir, 'gpg-trusted');
        mkdirSync(home);
        writeFileSync(join(home, 'trustedkeys.gpg'), await g.exportPublic(['A']));
        const r = spawnSync('ostree', [`--repo=${repo.path}`, 'show', `--gpg-homedir=${home}`, commit], { encoding: 'utf8' });
        assert.match(r.stdout, /Good signature from "Key A/, r.stdout + r.stderr);
      }
    });

    it('signs the summary with gpg too', async function () {
      const g = await gpgOracle();
      await publishSummary(repo, { openpgp: [{ key: await g.exportSecret('A') }], ed25519: [k1.secretKey] }, { now: 1_700_000_100 });
      const md = parseDetachedMetadata(readFileSync(join(repo.path, 'summary.sig')));
      const v = await g.verify(getSignatures(md, GPG_SIGNATURES_KEY)[0], readFileSync(join(repo.path, 'summary')));
      assert.ok(v.status.some((l) => l.includes('GOODSIG')));
      assert.equal(getSignatures(md, ED25519_SIGNATURES_KEY).length, 1);
    });
  });
});
