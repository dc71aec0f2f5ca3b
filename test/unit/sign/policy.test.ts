import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { verifyTrust, type TrustSettings } from '../../../agent/src/sign/policy';
import {
  addSignature,
  ED25519_SIGNATURES_KEY,
  GPG_SIGNATURES_KEY,
  serializeDetachedMetadata,
  type DetachedMetadata,
} from '../../../agent/src/sign/detached-metadata';
import { Ed25519KeySet, generateEd25519KeyPair, signEd25519 } from '../../../agent/src/sign/ed25519';
import { readOpenPgpKeyring, type OpenPgpKeyring } from '../../../agent/src/sign/openpgp';
import { variant } from '../../../agent/src/gvariant/index';
import { isCanopyError, type ErrorCode } from '../../../agent/src/core/errors';
import { gpgOracle, hasGpg, type GpgOracle } from './gpg-oracle';

const WHAT = 'commit 922dec41';

async function rejectsCode(p: Promise<unknown>, code: ErrorCode, message?: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    if (!isCanopyError(e, code)) assert.fail(`expected ${code}, got ${String(e)}`);
    assert.ok(e.message.startsWith(`${WHAT}: `), `message names what was checked: ${e.message}`);
    assert.equal(e.details.what, WHAT);
    if (message && !message.test(e.message)) assert.fail(`message ${JSON.stringify(e.message)} does not match ${message}`);
    return true;
  });
}

describe('sign/policy', () => {
  const data = randomBytes(200);
  const ed = generateEd25519KeyPair();
  const edOther = generateEd25519KeyPair();
  const edSig = signEd25519(ed.secretKey, data);
  const edKeys = { trusted: new Ed25519KeySet([ed.publicKey]) };
  const content = (md: DetachedMetadata | Uint8Array | null) => ({ what: WHAT, data, detachedMetadata: md });

  describe('switches and fail-closed defaults', () => {
    it('checks nothing only when both gpg-verify and sign-verify are off', async () => {
      assert.deepEqual(await verifyTrust({ gpgVerify: false, signVerify: false }, content(null)), { verified: false, signatures: [] });
      assert.deepEqual(await verifyTrust({ gpgVerify: false }, content(null)), { verified: false, signatures: [] });
    });

    it('demands OpenPGP signatures by default (gpg-verify defaults to true)', async () => {
      await rejectsCode(verifyTrust({}, content(null)), 'ERR_SIGNATURE_MISSING', /gpg-verify/);
      // an ed25519 signature does not satisfy gpg-verify
      await rejectsCode(verifyTrust({ ed25519: edKeys }, content(addSignature([], ED25519_SIGNATURES_KEY, edSig))), 'ERR_SIGNATURE_MISSING');
    });

    it('demands a signapi signature when sign-verify is on', async () => {
      await rejectsCode(verifyTrust({ gpgVerify: false, signVerify: true, ed25519: edKeys }, content([])), 'ERR_SIGNATURE_MISSING', /sign-verify/);
      await rejectsCode(verifyTrust({ gpgVerify: false, signVerify: ['ed25519'], ed25519: edKeys }, content(null)), 'ERR_SIGNATURE_MISSING');
    });

    it('refuses engines it does not implement', async () => {
      await assert.rejects(verifyTrust({ gpgVerify: false, signVerify: ['spki'] }, content([])), (e: unknown) => isCanopyError(e, 'ERR_CONFIG_INVALID'));
    });

    it('refuses malformed detached metadata as an invalid signature', async () => {
      const settings: TrustSettings = { gpgVerify: false, signVerify: true, ed25519: edKeys };
      await rejectsCode(verifyTrust(settings, content(Buffer.from([1, 2, 3, 0xff]))), 'ERR_SIGNATURE_INVALID', /malformed/);
      await rejectsCode(verifyTrust(settings, content([[ED25519_SIGNATURES_KEY, variant('ay', edSig)]])), 'ERR_SIGNATURE_INVALID', /type ay/);
    });
  });

  describe('ed25519 (sign-verify)', () => {
    const settings: TrustSettings = { gpgVerify: false, signVerify: ['ed25519'], ed25519: edKeys };

    it('passes a good signature given as .commitmeta bytes or parsed', async () => {
      const md = addSignature([['other', variant('s', 'x')]], ED25519_SIGNATURES_KEY, edSig);
      for (const m of [md, serializeDetachedMetadata(md)]) {
        const v = await verifyTrust(settings, content(m));
        assert.deepEqual(v, { verified: true, signatures: [{ engine: 'ed25519', publicKey: ed.publicKey.toString('base64'), index: 0 }] });
      }
    });

    it('reports tampered data, untrusted and revoked keys', async () => {
      const md = addSignature([], ED25519_SIGNATURES_KEY, edSig);
      await rejectsCode(verifyTrust(settings, { what: WHAT, data: Buffer.concat([data, Buffer.of(0)]), detachedMetadata: md }), 'ERR_SIGNATURE_INVALID');
      await rejectsCode(verifyTrust({ ...settings, ed25519: { trusted: new Ed25519KeySet([edOther.publicKey]) } }, content(md)), 'ERR_SIGNATURE_INVALID');
      await rejectsCode(verifyTrust({ ...settings, ed25519: undefined }, content(md)), 'ERR_KEY_UNTRUSTED');
      await rejectsCode(verifyTrust({ ...settings, ed25519: { ...edKeys, revoked: new Ed25519KeySet([ed.publicKey]) } }, content(md)), 'ERR_KEY_REVOKED');
    });

    it('passes one good signature next to one by another key', async () => {
      const md = addSignature(addSignature([], ED25519_SIGNATURES_KEY, signEd25519(edOther.secretKey, data)), ED25519_SIGNATURES_KEY, edSig);
      const v = await verifyTrust(settings, content(md));
      assert.equal(v.signatures[0].engine, 'ed25519');
    });
  });

  describe('OpenPGP (gpg-verify), oracle: GnuPG', function () {
    let g: GpgOracle;
    let ring: OpenPgpKeyring;

    before(async function () {
      if (!hasGpg()) this.skip(); // `gpg` (Debian package gnupg) is not installed
      this.timeout(30000);
      g = await gpgOracle();
      ring = await readOpenPgpKeyring([{ source: 'remote.trustedkeys.gpg', data: await g.exportPublic(['A', 'E']) }]);
    });

    it('passes a gpg signature from the remote keyring', async () => {
      const md = addSignature([], GPG_SIGNATURES_KEY, await g.sign('A', data));
      const v = await verifyTrust({ gpgKeyring: ring }, content(serializeDetachedMetadata(md)));
      assert.equal(v.verified, true);
      assert.equal(v.signatures.length, 1);
      assert.equal(v.signatures[0].engine, 'openpgp');
      assert.equal((v.signatures[0] as { keyId: string }).keyId, g.keys.A.keyId);
      assert.ok(!('checks' in v.signatures[0]));
    });

    it('maps each failure to its code, with the key id in the message', async () => {
      await rejectsCode(verifyTrust({}, content(addSignature([], GPG_SIGNATURES_KEY, await g.sign('A', data)))), 'ERR_KEY_UNTRUSTED', new RegExp(g.keys.A.keyId));
      await rejectsCode(verifyTrust({ gpgKeyring: ring }, content(addSignature([], GPG_SIGNATURES_KEY, await g.sign('U', data)))), 'ERR_KEY_UNTRUSTED', new RegExp(g.keys.U.keyId));
      const expired = await g.sign('E', data, { fakedTime: '20200201T000000!' });
      await rejectsCode(verifyTrust({ gpgKeyring: ring }, content(addSignature([], GPG_SIGNATURES_KEY, expired))), 'ERR_KEY_EXPIRED', new RegExp(g.keys.E.keyId));
      assert.equal((await verifyTrust({ gpgKeyring: ring, now: new Date('2020-02-02T00:00:00Z') }, content(addSignature([], GPG_SIGNATURES_KEY, expired)))).verified, true);
      await rejectsCode(verifyTrust({ gpgKeyring: ring }, content(addSignature([], GPG_SIGNATURES_KEY, randomBytes(100)))), 'ERR_SIGNATURE_INVALID');
    });

    it('requires both engines when both are on', async () => {
      const both: TrustSettings = { gpgVerify: true, signVerify: true, gpgKeyring: ring, ed25519: edKeys };
      const gpgOnly = addSignature([], GPG_SIGNATURES_KEY, await g.sign('A', data));
      await rejectsCode(verifyTrust(both, content(gpgOnly)), 'ERR_SIGNATURE_MISSING', /sign-verify/);
      await rejectsCode(verifyTrust(both, content(addSignature([], ED25519_SIGNATURES_KEY, edSig))), 'ERR_SIGNATURE_MISSING', /gpg-verify/);
      const v = await verifyTrust(both, content(addSignature(gpgOnly, ED25519_SIGNATURES_KEY, edSig)));
      assert.deepEqual(v.signatures.map((s) => s.engine), ['openpgp', 'ed25519']);
      // a failure in either one refuses the content
      const badEd = addSignature(gpgOnly, ED25519_SIGNATURES_KEY, signEd25519(edOther.secretKey, data));
      await rejectsCode(verifyTrust(both, content(badEd)), 'ERR_SIGNATURE_INVALID');
    });
  });
});
