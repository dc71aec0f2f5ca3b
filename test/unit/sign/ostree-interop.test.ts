/**
 * End to end with the real `ostree` (2022.7 in CI) and GnuPG: signatures
 * written by `ostree gpg-sign` verify in Canopy, signatures Canopy writes
 * into a .commitmeta verify in `ostree show` and in a verifying `ostree
 * pull`, and the multi-signature facts the policy documents hold.
 */
import { strict as assert } from 'node:assert';
import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  addSignature,
  ED25519_SIGNATURES_KEY,
  getSignatures,
  GPG_SIGNATURES_KEY,
  parseDetachedMetadata,
  serializeDetachedMetadata,
  type DetachedMetadata,
} from '../../../agent/src/sign/detached-metadata';
import { encodeEd25519Key, generateEd25519KeyPair, signEd25519 } from '../../../agent/src/sign/ed25519';
import { readOpenPgpKeyring, signOpenPgp, verifyOpenPgp, type OpenPgpKeyring } from '../../../agent/src/sign/openpgp';
import { verifyTrust } from '../../../agent/src/sign/policy';
import { isCanopyError } from '../../../agent/src/core/errors';
import { gpgOracle, hasGpg, type GpgOracle } from './gpg-oracle';

function ostreeFeatures(): string | undefined {
  try {
    return execFileSync('ostree', ['--version'], { encoding: 'utf8' });
  } catch {
    return undefined;
  }
}

function ostree(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('ostree', args, { encoding: 'utf8' }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

async function must(args: string[]): Promise<string> {
  const r = await ostree(args);
  if (r.code !== 0) throw new Error(`ostree ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

describe('sign with the real ostree (oracle: ostree gpg-sign, show, pull)', function () {
  let g: GpgOracle;
  let dir: string;
  let repo: string;
  let keyDir: string;
  let ring: OpenPgpKeyring;
  let commit: string;
  let commitBytes: Buffer;
  let metaPath: string;
  let pulls = 0;

  before(async function () {
    const version = ostreeFeatures();
    if (!version || !hasGpg()) this.skip(); // needs Debian packages ostree and gnupg
    this.timeout(30000);
    g = await gpgOracle();
    dir = mkdtempSync(join(tmpdir(), 'canopy-sign-ostree-'));
    repo = join(dir, 'repo');
    keyDir = join(dir, 'keys');
    const tree = join(dir, 'tree');
    mkdirSync(join(tree, 'etc'), { recursive: true });
    mkdirSync(keyDir);
    writeFileSync(join(tree, 'etc', 'os-release'), 'ID=canopy\n');
    writeFileSync(join(tree, 'hello'), 'hello\n');
    await must([`--repo=${repo}`, 'init', '--mode=archive']);
    commit = (await must([`--repo=${repo}`, 'commit', '-b', 'main', `--tree=dir=${tree}`, '-s', 'signed', '--timestamp=2024-01-01T00:00:00Z'])).trim();
    const objects = join(repo, 'objects', commit.slice(0, 2));
    commitBytes = readFileSync(join(objects, `${commit.slice(2)}.commit`));
    metaPath = join(objects, `${commit.slice(2)}.commitmeta`);
    // ostree reads every *.gpg file in --gpg-homedir (and a remote's keyring file)
    writeFileSync(join(keyDir, 'trusted.gpg'), await g.exportPublic(['A', 'B', 'C', 'E']));
    ring = await readOpenPgpKeyring([{ source: 'trusted.gpg', data: readFileSync(join(keyDir, 'trusted.gpg')) }]);
  });

  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const writeMeta = (md: DetachedMetadata): void => writeFileSync(metaPath, serializeDetachedMetadata(md));

  /** Pulls `main` into a fresh repo whose remote verifies with keys/trusted.gpg. */
  async function pull(): Promise<{ code: number; stderr: string }> {
    const dest = join(dir, `client${pulls++}`);
    await must([`--repo=${dest}`, 'init', '--mode=bare-user-only']);
    await must([`--repo=${dest}`, 'remote', 'add', `--gpg-import=${join(keyDir, 'trusted.gpg')}`, 'origin', `file://${repo}`]);
    return ostree([`--repo=${dest}`, 'pull', 'origin', 'main']);
  }

  it('verifies what `ostree gpg-sign` writes into the .commitmeta', async () => {
    await must([`--repo=${repo}`, 'gpg-sign', `--gpg-homedir=${g.home}`, commit, g.keys.A.keyId]);
    await must([`--repo=${repo}`, 'gpg-sign', `--gpg-homedir=${g.home}`, commit, g.keys.B.fpr]);
    const raw = readFileSync(metaPath);
    const md = parseDetachedMetadata(raw);
    assert.deepEqual(md.map(([k]) => k), [GPG_SIGNATURES_KEY]);
    assert.ok(serializeDetachedMetadata(md).equals(raw), 'our serializer reproduces ostree\'s bytes');
    const sigs = getSignatures(md, GPG_SIGNATURES_KEY);
    assert.equal(sigs.length, 2);
    assert.equal((await verifyOpenPgp([sigs[0]], commitBytes, ring)).keyId, g.keys.A.keyId);
    assert.equal((await verifyOpenPgp([sigs[1]], commitBytes, ring)).keyId, g.keys.B.signerId, 'B signs with its subkey');
    const v = await verifyTrust({ gpgKeyring: ring }, { what: `commit ${commit}`, data: commitBytes, detachedMetadata: raw });
    assert.equal(v.verified, true);
    assert.equal((await pull()).code, 0, 'ostree accepts it too');
  });

  it('writes signatures that `ostree show` and a verifying `ostree pull` accept', async () => {
    const sig = await signOpenPgp(commitBytes, await g.exportSecret('C', true));
    writeMeta(addSignature([], GPG_SIGNATURES_KEY, sig));
    const show = await must([`--repo=${repo}`, 'show', `--gpg-homedir=${keyDir}`, commit]);
    assert.match(show, /Found 1 signature/);
    assert.match(show, /Good signature from "Key C <c@canopy\.test>"/);
    assert.match(show, new RegExp(`key ID ${g.keys.C.keyId}`));
    assert.equal((await pull()).code, 0);

    // appended to what ostree gpg-sign wrote, next to its signature
    rmSync(metaPath);
    await must([`--repo=${repo}`, 'gpg-sign', `--gpg-homedir=${g.home}`, commit, g.keys.A.keyId]);
    writeMeta(addSignature(parseDetachedMetadata(readFileSync(metaPath)), GPG_SIGNATURES_KEY, await signOpenPgp(commitBytes, await g.exportSecret('B'))));
    const show2 = await must([`--repo=${repo}`, 'show', `--gpg-homedir=${keyDir}`, commit]);
    assert.match(show2, /Found 2 signatures/);
    assert.equal(show2.match(/Good signature/g)?.length, 2);
  });

  it('control: ostree refuses a Canopy signature over other bytes', async () => {
    const other = Buffer.concat([commitBytes, Buffer.of(0)]);
    writeMeta(addSignature([], GPG_SIGNATURES_KEY, await signOpenPgp(other, await g.exportSecret('A'))));
    const r = await pull();
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /BAD signature/);
  });

  it('documents OSTree\'s multi-signature behaviour that the policy is built on', async () => {
    const good = await signOpenPgp(commitBytes, await g.exportSecret('A'));
    const bad = await g.sign('C', Buffer.from('some other commit'));
    const expiredKey = await g.sign('E', commitBytes, { fakedTime: '20200201T000000!' });
    const unknown = await g.sign('U', commitBytes);
    const future = await g.sign('A', commitBytes, { fakedTime: '20990101T000000!' });
    const canopy = async (sigs: Uint8Array[]): Promise<string> => {
      try {
        await verifyOpenPgp(sigs, commitBytes, ring);
        return 'ok';
      } catch (e) {
        assert.ok(isCanopyError(e));
        return e.code;
      }
    };
    const cases: Array<{ sigs: Uint8Array[]; ostree: 'ok' | 'refused'; canopy: string }> = [
      // a signature by an expired key is not good; one good signature is enough
      { sigs: [expiredKey], ostree: 'refused', canopy: 'ERR_KEY_EXPIRED' },
      { sigs: [expiredKey, good], ostree: 'ok', canopy: 'ok' },
      { sigs: [unknown, good], ostree: 'ok', canopy: 'ok' },
      // a signature dated in the future (a device clock behind) is accepted
      { sigs: [future], ostree: 'ok', canopy: 'ok' },
      // GPGME stops at a BAD signature: OSTree's answer depends on the order; ours does not
      { sigs: [bad, good], ostree: 'refused', canopy: 'ERR_SIGNATURE_INVALID' },
      { sigs: [good, bad], ostree: 'ok', canopy: 'ERR_SIGNATURE_INVALID' },
      // garbage anywhere makes GPGME fail the whole verification
      { sigs: [good, Buffer.from('garbage, not a packet')], ostree: 'refused', canopy: 'ERR_SIGNATURE_INVALID' },
    ];
    for (const [i, c] of cases.entries()) {
      let md: DetachedMetadata = [];
      for (const s of c.sigs) md = addSignature(md, GPG_SIGNATURES_KEY, s);
      writeMeta(md);
      const r = await pull();
      assert.equal(r.code === 0 ? 'ok' : 'refused', c.ostree, `case ${i}: ostree pull said ${r.code}: ${r.stderr}`);
      assert.equal(await canopy(c.sigs), c.canopy, `case ${i}`);
    }
  });

  it('checks ed25519 with ostree when the build has it (2022.7 on Debian does not)', async function () {
    if (!ostreeFeatures()!.includes('sign-ed25519')) this.skip(); // ostree built without libsodium/ed25519
    // Reached only with an ostree built with ed25519; the fixed vectors in
    // ed25519.test.ts cover the format otherwise.
    const pair = generateEd25519KeyPair();
    writeMeta(addSignature([], ED25519_SIGNATURES_KEY, signEd25519(pair.secretKey, commitBytes)));
    const keys = join(dir, 'ed25519.keys');
    writeFileSync(keys, `${encodeEd25519Key(pair.publicKey)}\n`);
    await must([`--repo=${repo}`, 'sign', '--verify', '--sign-type=ed25519', `--keys-file=${keys}`, commit]);
  });
});
