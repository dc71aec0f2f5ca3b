import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import {
  checkOpenPgpSignatures,
  OpenPgpKeyring,
  readOpenPgpKeyring,
  signOpenPgp,
  verifyOpenPgp,
} from '../../../agent/src/sign/openpgp';
import { isCanopyError, type ErrorCode } from '../../../agent/src/core/errors';
import { gpgOracle, hasGpg, type GpgOracle } from './gpg-oracle';

async function rejectsCode(p: Promise<unknown>, code: ErrorCode, message?: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    if (!isCanopyError(e, code)) assert.fail(`expected ${code}, got ${String(e)}`);
    if (message && !message.test(e.message)) assert.fail(`message ${JSON.stringify(e.message)} does not match ${message}`);
    return true;
  });
}

describe('sign/openpgp (oracle: GnuPG)', function () {
  let g: GpgOracle;
  let ring: OpenPgpKeyring; // A, B, C, E, S (binary export, one file)
  const data = randomBytes(300);

  before(async function () {
    if (!hasGpg()) this.skip(); // `gpg` (Debian package gnupg) is not installed
    this.timeout(30000);
    g = await gpgOracle();
    ring = await readOpenPgpKeyring([{ source: 'trusted.gpg', data: await g.exportPublic(['A', 'B', 'C', 'E', 'S']) }]);
  });

  describe('signatures made by gpg --detach-sign verify in Canopy', () => {
    for (const name of ['A', 'B', 'C'] as const) {
      it(`key ${name} (${name === 'B' ? 'signing subkey' : name === 'C' ? 'RSA' : 'ed25519 primary'})`, async () => {
        const sig = await g.sign(name, data);
        const r = await verifyOpenPgp([sig], data, ring);
        assert.equal(r.keyId, g.keys[name].signerId);
        assert.equal(r.primaryFingerprint, g.keys[name].fpr);
        assert.match(r.userId ?? '', new RegExp(`Key ${name} <`));
        assert.equal(r.fingerprint.endsWith(g.keys[name].signerId), true);
      });
    }

    it('refuses them over tampered data', async () => {
      const sig = await g.sign('A', data);
      const tampered = Buffer.from(data);
      tampered[0] ^= 0x80;
      await rejectsCode(verifyOpenPgp([sig], tampered, ring), 'ERR_SIGNATURE_INVALID', /does not match/);
      assert.ok((await g.verify(sig, tampered)).status.some((l) => l.includes('BADSIG')), 'gpg agrees');
    });
  });

  describe('signatures made by Canopy verify with gpg --verify', () => {
    const cases: Array<{ name: 'A' | 'B' | 'C' | 'P'; armor: boolean }> = [
      { name: 'A', armor: true },
      { name: 'B', armor: false },
      { name: 'C', armor: true },
      { name: 'P', armor: false },
    ];
    for (const { name, armor } of cases) {
      it(`key ${name} from a${armor ? 'n armoured' : ' binary'} secret key${name === 'P' ? ' with a passphrase' : ''}`, async () => {
        const secret = await g.exportSecret(name, armor);
        const sig = await signOpenPgp(data, armor ? secret.toString('utf8') : secret, name === 'P' ? { passphrase: 'hunter2' } : {});
        const out = await g.verify(sig, data);
        assert.equal(out.code, 0, out.status.join('\n'));
        assert.ok(out.status.some((l) => l.startsWith(`[GNUPG:] GOODSIG ${g.keys[name].signerId} `)), out.status.join('\n'));
        // one packet, class 0x00 (binary document), as ostree gpg-sign writes
        const checks = await checkOpenPgpSignatures([sig], data, await readOpenPgpKeyring([{ source: 'k', data: await g.exportPublic([name]) }]));
        assert.equal(checks.length, 1);
        assert.equal(checks[0].status, 'good');
        const flipped = Buffer.from(data);
        flipped[1] ^= 1;
        assert.ok((await g.verify(sig, flipped)).status.some((l) => l.includes('BADSIG')));
      });
    }

    it('signs with a chosen key id and refuses a wrong or missing passphrase', async () => {
      const secretP = await g.exportSecret('P');
      await rejectsCode(signOpenPgp(data, secretP, { passphrase: 'wrong' }), 'ERR_INVALID_ARGUMENT', /unlock/);
      await rejectsCode(signOpenPgp(data, secretP), 'ERR_INVALID_ARGUMENT', /passphrase/);
      const secretB = await g.exportSecret('B');
      const sig = await signOpenPgp(data, secretB, { keyId: g.keys.B.signerId });
      assert.ok((await g.verify(sig, data)).status.some((l) => l.startsWith(`[GNUPG:] GOODSIG ${g.keys.B.signerId}`)));
      await rejectsCode(signOpenPgp(data, secretB, { keyId: g.keys.A.keyId }), 'ERR_INVALID_ARGUMENT', /no secret key/);
      await rejectsCode(signOpenPgp(data, Buffer.from('not a key')), 'ERR_INVALID_ARGUMENT');
    });

    it('refuses to sign with an expired key', async () => {
      await rejectsCode(signOpenPgp(data, await g.exportSecret('E')), 'ERR_KEY_EXPIRED');
    });
  });

  describe('trust decisions', () => {
    it('names the unknown signer\'s key id', async () => {
      const sig = await g.sign('U', data);
      await rejectsCode(verifyOpenPgp([sig], data, ring), 'ERR_KEY_UNTRUSTED', new RegExp(g.keys.U.keyId));
      await rejectsCode(verifyOpenPgp([sig], data, new OpenPgpKeyring()), 'ERR_KEY_UNTRUSTED');
    });

    it('refuses truncated, garbage and armoured signature elements', async () => {
      const sig = await g.sign('A', data);
      await rejectsCode(verifyOpenPgp([sig.subarray(0, sig.length - 10)], data, ring), 'ERR_SIGNATURE_INVALID', /element 0/);
      await rejectsCode(verifyOpenPgp([randomBytes(119)], data, ring), 'ERR_SIGNATURE_INVALID');
      await rejectsCode(verifyOpenPgp([sig, randomBytes(40)], data, ring), 'ERR_SIGNATURE_INVALID', /element 1/);
      await rejectsCode(verifyOpenPgp([await g.sign('A', data, { armor: true })], data, ring), 'ERR_SIGNATURE_INVALID');
      await rejectsCode(verifyOpenPgp([await g.exportPublic(['A'])], data, ring), 'ERR_SIGNATURE_INVALID');
      await rejectsCode(verifyOpenPgp([], data, ring), 'ERR_SIGNATURE_MISSING');
    });

    it('refuses a text-mode (class 0x01) signature', async () => {
      const sig = await g.sign('A', data, { textmode: true });
      await rejectsCode(verifyOpenPgp([sig], data, ring), 'ERR_SIGNATURE_INVALID', /class 0x01/);
    });

    it('treats a key that expired after signing as expired, as OSTree/GPGME do', async () => {
      const sig = await g.sign('E', data, { fakedTime: '20200201T000000!' });
      assert.ok((await g.verify(sig, data)).status.some((l) => l.startsWith('[GNUPG:] EXPKEYSIG')), 'gpg: EXPKEYSIG');
      await rejectsCode(verifyOpenPgp([sig], data, ring), 'ERR_KEY_EXPIRED', new RegExp(g.keys.E.keyId));
      // judged at a time when the key was still valid, the same signature is good
      const then = await verifyOpenPgp([sig], data, ring, { now: new Date('2020-03-01T00:00:00Z') });
      assert.equal(then.keyId, g.keys.E.keyId);
    });

    it('refuses an expired signature', async () => {
      const sig = await g.sign('S', data, { fakedTime: '20200201T000000!', sigExpire: '1d' });
      assert.ok((await g.verify(sig, data)).status.some((l) => l.startsWith('[GNUPG:] EXPSIG')), 'gpg: EXPSIG');
      await rejectsCode(verifyOpenPgp([sig], data, ring), 'ERR_SIGNATURE_INVALID', /expired/);
      const [check] = await checkOpenPgpSignatures([sig], data, ring);
      assert.equal(check.status, 'signature-expired');
    });

    it('accepts a signature dated after the verifier\'s clock (devices without an RTC)', async () => {
      const sig = await g.sign('A', data, { fakedTime: '20990101T000000!' });
      const r = await verifyOpenPgp([sig], data, ring);
      assert.equal(r.created?.getUTCFullYear(), 2099);
    });

    it('refuses a revoked key whenever the signature was made', async () => {
      const sig = await g.sign('R', data);
      const revoked = await readOpenPgpKeyring([{ source: 'r.gpg', data: g.revokedPublicR }]);
      await rejectsCode(verifyOpenPgp([sig], data, revoked), 'ERR_KEY_REVOKED', new RegExp(g.keys.R.keyId));
      // the same signature against R before revocation is good
      const plain = await readOpenPgpKeyring([{ source: 'r.gpg', data: await g.exportPublic(['R']) }]);
      assert.equal((await verifyOpenPgp([sig], data, plain)).keyId, g.keys.R.keyId);
      // a revocation in a later file is merged into the earlier copy of the key
      const merged = await readOpenPgpKeyring([
        { source: 'old.gpg', data: await g.exportPublic(['R']) },
        { source: 'new.gpg', data: g.revokedPublicR },
      ]);
      assert.equal(merged.size, 1);
      await rejectsCode(verifyOpenPgp([sig], data, merged), 'ERR_KEY_REVOKED');
    });

    it('passes one good signature among ones by unknown, revoked and expired keys', async () => {
      const revokedRing = await readOpenPgpKeyring([
        { source: 'a', data: await g.exportPublic(['A', 'E']) },
        { source: 'r', data: g.revokedPublicR },
      ]);
      const sigs = [
        await g.sign('U', data),
        await g.sign('R', data),
        await g.sign('E', data, { fakedTime: '20200201T000000!' }),
        await g.sign('A', data),
      ];
      const r = await verifyOpenPgp(sigs, data, revokedRing);
      assert.equal(r.keyId, g.keys.A.keyId);
      assert.deepEqual(r.checks.map((c) => c.status), ['untrusted', 'revoked', 'key-expired', 'good']);
      // all packets concatenated in one element read the same
      const one = await verifyOpenPgp([Buffer.concat(sigs)], data, revokedRing);
      assert.deepEqual(one.checks.map((c) => [c.element, c.status]), [[0, 'untrusted'], [0, 'revoked'], [0, 'key-expired'], [0, 'good']]);
      // with the good one gone, the most telling failure is reported
      await rejectsCode(verifyOpenPgp(sigs.slice(0, 3), data, revokedRing), 'ERR_KEY_REVOKED');
      await rejectsCode(verifyOpenPgp([sigs[0], sigs[2]], data, revokedRing), 'ERR_KEY_EXPIRED');
    });

    it('refuses a bad signature by a trusted key even next to a good one, in either order', async () => {
      const good = await g.sign('A', data);
      const bad = await g.sign('C', Buffer.from('other data'));
      await rejectsCode(verifyOpenPgp([good, bad], data, ring), 'ERR_SIGNATURE_INVALID', /BAD/);
      await rejectsCode(verifyOpenPgp([bad, good], data, ring), 'ERR_SIGNATURE_INVALID', /BAD/);
    });
  });

  describe('keyrings', () => {
    it('reads several keys per file, several files, armoured and binary', async () => {
      const armoredAB = (await g.exportPublic(['A', 'B'], true)).toString('utf8');
      const armoredC = (await g.exportPublic(['C'], true)).toString('utf8');
      const kr = await readOpenPgpKeyring([
        { source: 'ab+c.asc', data: Buffer.from(`${armoredAB}\n${armoredC}`) },
        { source: 'e.gpg', data: await g.exportPublic(['E']) },
        { source: 'a-again.asc', data: armoredAB },
      ]);
      assert.deepEqual(kr.list().map((k) => k.keyId).sort(), [g.keys.A.keyId, g.keys.B.keyId, g.keys.C.keyId, g.keys.E.keyId].sort());
      assert.deepEqual(kr.list().find((k) => k.keyId === g.keys.B.keyId)!.subkeyIds, [g.keys.B.signerId]);
      for (const name of ['A', 'B', 'C'] as const) {
        assert.equal((await verifyOpenPgp([await g.sign(name, data)], data, kr)).keyId, g.keys[name].signerId);
      }
    });

    it('takes the public part of a secret key file', async () => {
      const kr = await readOpenPgpKeyring([{ source: 'secret.asc', data: (await g.exportSecret('A', true)).toString('utf8') }]);
      assert.equal(kr.size, 1);
      assert.equal((await verifyOpenPgp([await g.sign('A', data)], data, kr)).keyId, g.keys.A.keyId);
    });

    it('refuses files that hold no key, naming them', async () => {
      await rejectsCode(readOpenPgpKeyring([{ source: 'junk.gpg', data: randomBytes(64) }]), 'ERR_CONFIG_INVALID', /junk\.gpg/);
      await rejectsCode(readOpenPgpKeyring([{ source: 'empty.asc', data: 'no armour here' }]), 'ERR_CONFIG_INVALID', /empty\.asc/);
    });
  });
});
