/**
 * Verification before storage (ed25519 here; OpenPGP in remote-keys and
 * the interop suite): signed commits pass, unsigned, wrongly signed and
 * tampered ones are refused before anything of them is stored, and a
 * signed summary is checked when the remote asks for it.
 */
import { strict as assert } from 'node:assert';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isCanopyError } from '../../../agent/src/core/errors';
import { ObjectType } from '../../../agent/src/objects/index';
import { pull } from '../../../agent/src/pull/index';
import { addSignature, ED25519_SIGNATURES_KEY, encodeEd25519Key, generateEd25519KeyPair, serializeDetachedMetadata, signEd25519 } from '../../../agent/src/sign/index';
import { serveDirectory, type RepoServer } from '../../helpers/http-server';
import { assertHealthy, cleanup, makeClient, makeServedRepo, originRef, type ServedRepo } from './fixture';

const FAST = { retries: 0 };

describe('pull: trust policy before storage', function () {
  let s: ServedRepo;
  let srv: RepoServer;
  const key = generateEd25519KeyPair();
  const other = generateEd25519KeyPair();
  let commitMeta: string;
  let v2Bytes: Buffer;

  const signed = (secret: Uint8Array, data: Uint8Array): Buffer => serializeDetachedMetadata(addSignature([], ED25519_SIGNATURES_KEY, signEd25519(secret, data)));
  const ed25519Remote = (extra: Array<[string, string]> = []): { noGpgVerify: boolean; set: Array<[string, string]> } => ({
    noGpgVerify: true,
    set: [['sign-verify', 'ed25519'], ['verification-ed25519-key', encodeEd25519Key(key.publicKey)], ...extra],
  });

  before(async () => {
    s = await makeServedRepo({ files: 8 });
    srv = await serveDirectory(s.path);
    commitMeta = `/objects/${s.v2.slice(0, 2)}/${s.v2.slice(2)}.commitmeta`;
    v2Bytes = s.repo.readMetadataBytes(ObjectType.COMMIT, s.v2);
  });
  after(async () => {
    await srv?.close();
    cleanup(s?.dir);
  });
  beforeEach(() => {
    srv.resetLog();
    srv.clearFaults();
    srv.override(commitMeta, undefined);
  });

  const refused = async (c: ReturnType<typeof makeClient>, codes: string[]): Promise<void> => {
    await assert.rejects(pull(c, 'origin', ['main'], FAST), (e) => isCanopyError(e) && codes.includes(e.code) && e.message.includes(`commit ${s.v2}`));
    assert.equal(originRef(c), undefined, 'no ref');
    assert.equal(c.hasObject(s.v2, ObjectType.COMMIT), false, 'the commit was not stored');
    assert.ok(!srv.log.some((l) => l.path.endsWith('.dirtree') || l.path.endsWith('.filez')), 'nothing of its tree was fetched');
    await assertHealthy(c);
  };

  it('pulls a commit with a good ed25519 signature and says it was verified', async () => {
    srv.override(commitMeta, signed(key.secretKey, v2Bytes));
    const c = makeClient(s.dir, srv.url, 'bare-user-only', ed25519Remote());
    const r = await pull(c, 'origin', ['main'], FAST);
    assert.equal(r.verified, true);
    assert.equal(originRef(c), s.v2);
    assert.ok(c.readCommitMeta(s.v2)!.equals(signed(key.secretKey, v2Bytes)), 'the detached metadata is stored');
    await assertHealthy(c);
  });

  it('refuses an unsigned commit, one signed by an untrusted key, and a signature over other bytes', async () => {
    await refused(makeClient(s.dir, srv.url, 'bare-user-only', ed25519Remote()), ['ERR_SIGNATURE_MISSING']);
    // ed25519 signatures carry no key id: an unknown signer and changed data look the same.
    srv.override(commitMeta, signed(other.secretKey, v2Bytes));
    await refused(makeClient(s.dir, srv.url, 'bare-user-only', ed25519Remote()), ['ERR_KEY_UNTRUSTED', 'ERR_SIGNATURE_INVALID']);
    srv.override(commitMeta, signed(key.secretKey, Buffer.concat([v2Bytes, Buffer.of(0)])));
    await refused(makeClient(s.dir, srv.url, 'bare-user-only', ed25519Remote()), ['ERR_KEY_UNTRUSTED', 'ERR_SIGNATURE_INVALID']);
    srv.override(commitMeta, Buffer.from('garbage detached metadata'));
    await refused(makeClient(s.dir, srv.url, 'bare-user-only', ed25519Remote()), ['ERR_SIGNATURE_INVALID']);
  });

  it('fails closed by default: gpg-verify is on unless switched off, and there are no keys', async () => {
    const c = makeClient(s.dir, srv.url, 'bare-user-only', {});
    await refused(c, ['ERR_SIGNATURE_MISSING']);
  });

  it('accepts unsigned content only where verification was switched off for that remote', async () => {
    const c = makeClient(s.dir, srv.url, 'bare-user-only', { noGpgVerify: true });
    const r = await pull(c, 'origin', ['main'], FAST);
    assert.equal(r.verified, false);
    assert.equal(originRef(c), s.v2);
  });

  it('reads trusted keys from verification-ed25519-file', async () => {
    const file = join(s.dir, 'trusted.ed25519');
    writeFileSync(file, `${encodeEd25519Key(other.publicKey)}\n${encodeEd25519Key(key.publicKey)}\n`);
    srv.override(commitMeta, signed(key.secretKey, v2Bytes));
    const c = makeClient(s.dir, srv.url, 'bare-user-only', { noGpgVerify: true, set: [['sign-verify', 'true'], ['verification-ed25519-file', file]] });
    assert.equal((await pull(c, 'origin', ['main'], FAST)).verified, true);
  });

  it('checks a signed summary when sign-verify-summary is on', async () => {
    const summary = readFileSync(join(s.path, 'summary'));
    srv.override(commitMeta, signed(key.secretKey, v2Bytes));
    const remote = ed25519Remote([['sign-verify-summary', 'true']]);
    try {
      await assert.rejects(pull(makeClient(s.dir, srv.url, 'bare-user-only', remote), 'origin', ['main'], FAST), (e) => isCanopyError(e, 'ERR_SIGNATURE_MISSING') && /summary of remote origin/.test(e.message));
      srv.override('/summary.sig', signed(key.secretKey, summary));
      const c = makeClient(s.dir, srv.url, 'bare-user-only', remote);
      await pull(c, 'origin', ['main'], FAST);
      assert.equal(originRef(c), s.v2);
      // A summary changed after signing (here: one byte) is refused, even with a cached good copy.
      const tampered = Buffer.from(summary);
      tampered[tampered.length - 1] ^= 1;
      srv.override('/summary', tampered);
      srv.override('/summary.sig', signed(other.secretKey, tampered));
      await assert.rejects(pull(c, 'origin', ['main'], FAST), (e) => isCanopyError(e) && ['ERR_KEY_UNTRUSTED', 'ERR_SIGNATURE_INVALID'].includes(e.code) && /summary of remote origin/.test(e.message));
    } finally {
      srv.override('/summary', undefined);
      srv.override('/summary.sig', undefined);
    }
  });
});
