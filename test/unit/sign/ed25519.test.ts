import { strict as assert } from 'node:assert';
import {
  checkEd25519,
  decodeEd25519PublicKey,
  decodeEd25519SecretKey,
  ed25519KeyPairFromSeed,
  Ed25519KeySet,
  encodeEd25519Key,
  generateEd25519KeyPair,
  parseEd25519KeyFile,
  signEd25519,
  verifyEd25519,
} from '../../../agent/src/sign/ed25519';
import { isCanopyError, type ErrorCode } from '../../../agent/src/core/errors';

const hex = (s: string): Buffer => Buffer.from(s, 'hex');
const throwsCode = (fn: () => unknown, code: ErrorCode): void => {
  assert.throws(fn, (e: unknown) => isCanopyError(e, code) || assert.fail(`expected ${code}, got ${String(e)}`));
};

// RFC 8032 section 7.1, TEST 1 (empty message) and TEST 2 (one byte 0x72).
const RFC = [
  {
    seed: '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60',
    pub: 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
    msg: '',
    sig: 'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
  },
  {
    seed: '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb',
    pub: '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c',
    msg: '72',
    sig: '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00',
  },
];

describe('sign/ed25519', () => {
  describe('RFC 8032 vectors', () => {
    for (const [i, v] of RFC.entries()) {
      it(`TEST ${i + 1}: derives the public key, signs and verifies byte for byte`, () => {
        const pair = ed25519KeyPairFromSeed(hex(v.seed));
        assert.equal(pair.publicKey.toString('hex'), v.pub);
        assert.equal(pair.secretKey.toString('hex'), v.seed + v.pub, 'libsodium layout: seed ‖ public');
        const sig = signEd25519(pair.secretKey, hex(v.msg));
        assert.equal(sig.toString('hex'), v.sig);
        const ok = verifyEd25519([hex(v.sig)], hex(v.msg), new Ed25519KeySet([hex(v.pub)]));
        assert.deepEqual(ok, { engine: 'ed25519', publicKey: hex(v.pub).toString('base64'), index: 0 });
      });
    }
  });

  describe('keys', () => {
    it('round-trips generated keys through OSTree base64 text', () => {
      const pair = generateEd25519KeyPair();
      assert.equal(pair.publicKey.length, 32);
      assert.equal(pair.secretKey.length, 64);
      const pubText = encodeEd25519Key(pair.publicKey);
      const secText = encodeEd25519Key(pair.secretKey);
      assert.match(pubText, /^[A-Za-z0-9+/]{43}=$/);
      assert.match(secText, /^[A-Za-z0-9+/]{86}==$/);
      assert.ok(decodeEd25519PublicKey(` ${pubText}\n`).equals(pair.publicKey));
      assert.ok(decodeEd25519SecretKey(secText).publicKey.equals(pair.publicKey));
      const data = Buffer.from('commit bytes');
      const sig = signEd25519(secText, data);
      assert.equal(sig.length, 64);
      assert.ok(checkEd25519(pair.publicKey, data, sig));
      assert.ok(!checkEd25519(pair.publicKey, Buffer.from('commit bytez'), sig));
    });

    it('refuses malformed keys', () => {
      throwsCode(() => decodeEd25519PublicKey('AAAA'), 'ERR_INVALID_ARGUMENT');
      throwsCode(() => decodeEd25519PublicKey(Buffer.alloc(33).toString('base64')), 'ERR_INVALID_ARGUMENT');
      throwsCode(() => decodeEd25519SecretKey(Buffer.alloc(32).toString('base64')), 'ERR_INVALID_ARGUMENT');
      throwsCode(() => decodeEd25519SecretKey(new Uint8Array(63)), 'ERR_INVALID_ARGUMENT');
      throwsCode(() => ed25519KeyPairFromSeed(new Uint8Array(31)), 'ERR_INVALID_ARGUMENT');
      throwsCode(() => new Ed25519KeySet([new Uint8Array(31)]), 'ERR_INVALID_ARGUMENT');
      // a secret key whose public half is not the seed's
      const a = generateEd25519KeyPair();
      const b = generateEd25519KeyPair();
      throwsCode(() => decodeEd25519SecretKey(Buffer.concat([a.secretKey.subarray(0, 32), b.publicKey])), 'ERR_INVALID_ARGUMENT');
      throwsCode(() => signEd25519(Buffer.concat([a.secretKey.subarray(0, 32), b.publicKey]), Buffer.from('x')), 'ERR_INVALID_ARGUMENT');
    });

    it('compares keys by value in a key set', () => {
      const k = generateEd25519KeyPair().publicKey;
      const set = new Ed25519KeySet([k, Buffer.from(k)]);
      assert.equal(set.size, 1);
      assert.ok(set.has(Uint8Array.from(k)));
      assert.ok(!set.has(generateEd25519KeyPair().publicKey));
    });
  });

  describe('key files (OSTree: one base64 key per line)', () => {
    const k1 = generateEd25519KeyPair().publicKey;
    const k2 = generateEd25519KeyPair().publicKey;
    const b1 = k1.toString('base64');
    const b2 = k2.toString('base64');

    it('reads keys with or without a final newline, and with CRLF', () => {
      for (const text of [`${b1}\n${b2}\n`, `${b1}\n${b2}`, `${b1}\r\n${b2}\r\n`]) {
        const r = parseEd25519KeyFile(text, 'trusted.ed25519');
        assert.deepEqual(r.keys, [k1, k2]);
        assert.deepEqual(r.skipped, []);
      }
      assert.deepEqual(parseEd25519KeyFile(Buffer.from(`${b1}\n`), 'f').keys, [k1]);
    });

    it('rejects the whole file on an empty line, as OSTree does', () => {
      throwsCode(() => parseEd25519KeyFile(`${b1}\n\n${b2}\n`, 'f'), 'ERR_CONFIG_INVALID');
      throwsCode(() => parseEd25519KeyFile(`${b1}\n\n`, 'f'), 'ERR_CONFIG_INVALID');
      throwsCode(() => parseEd25519KeyFile(`\n${b1}\n`, 'f'), 'ERR_CONFIG_INVALID');
    });

    it('skips and reports lines that are not keys, including comments', () => {
      const r = parseEd25519KeyFile(`# fleet signing key\n${b1}\nnot-a-key\n${Buffer.alloc(64).toString('base64')}\n${b2}\n`, 'f');
      assert.deepEqual(r.keys, [k1, k2]);
      assert.deepEqual(r.skipped.map((s) => [s.line, s.reason.startsWith('comment') ? 'comment' : 'bad']), [[1, 'comment'], [3, 'bad'], [4, 'bad']]);
    });

    it('refuses a file without a valid key unless asked to allow it', () => {
      throwsCode(() => parseEd25519KeyFile('', 'f'), 'ERR_CONFIG_INVALID');
      throwsCode(() => parseEd25519KeyFile('# nothing here\n', 'f'), 'ERR_CONFIG_INVALID');
      assert.deepEqual(parseEd25519KeyFile('', 'revoked.ed25519', { allowNoKeys: true }).keys, []);
      assert.throws(() => parseEd25519KeyFile('garbage\n', 'etc/ostree/trusted.ed25519'), /etc\/ostree\/trusted\.ed25519: no valid ed25519 public key/);
    });

    it('builds a key set from several files', () => {
      const set = Ed25519KeySet.fromFiles([{ source: 'a', text: `${b1}\n` }, { source: 'b', text: `${b2}\n${b1}\n` }]);
      assert.equal(set.size, 2);
      const revoked = Ed25519KeySet.fromFiles([{ source: 'r', text: '' }], { allowNoKeys: true });
      assert.equal(revoked.size, 0);
    });
  });

  describe('verifyEd25519 (any one good signature from a trusted, non-revoked key)', () => {
    const data = Buffer.from('exact .commit bytes');
    const good = generateEd25519KeyPair();
    const other = generateEd25519KeyPair();
    const stranger = generateEd25519KeyPair();
    const sigGood = signEd25519(good.secretKey, data);
    const sigOther = signEd25519(other.secretKey, data);
    const sigStranger = signEd25519(stranger.secretKey, data);
    const trusted = new Ed25519KeySet([other.publicKey, good.publicKey]);

    it('passes on one good signature among signatures by unknown keys', () => {
      const r = verifyEd25519([sigStranger, sigGood], data, new Ed25519KeySet([good.publicKey]));
      assert.equal(r.index, 1);
      assert.equal(r.publicKey, good.publicKey.toString('base64'));
    });

    it('refuses tampered data', () => {
      throwsCode(() => verifyEd25519([sigGood, sigOther], Buffer.from('exact .commit byteZ'), trusted), 'ERR_SIGNATURE_INVALID');
    });

    it('refuses a signature whose key is not trusted', () => {
      throwsCode(() => verifyEd25519([sigStranger], data, trusted), 'ERR_SIGNATURE_INVALID');
    });

    it('refuses a flipped signature bit', () => {
      const bad = Buffer.from(sigGood);
      bad[10] ^= 1;
      throwsCode(() => verifyEd25519([bad], data, trusted), 'ERR_SIGNATURE_INVALID');
    });

    it('refuses a malformed (not 64-byte) element wherever it is', () => {
      throwsCode(() => verifyEd25519([sigGood, sigGood.subarray(0, 63)], data, trusted), 'ERR_SIGNATURE_INVALID');
      throwsCode(() => verifyEd25519([Buffer.concat([sigGood, Buffer.of(0)]), sigGood], data, trusted), 'ERR_SIGNATURE_INVALID');
    });

    it('reports a revoked key, and passes when another trusted key signed too', () => {
      const revoked = new Ed25519KeySet([good.publicKey]);
      throwsCode(() => verifyEd25519([sigGood], data, trusted, revoked), 'ERR_KEY_REVOKED');
      throwsCode(() => verifyEd25519([sigGood], data, new Ed25519KeySet(), revoked), 'ERR_KEY_REVOKED');
      assert.equal(verifyEd25519([sigGood, sigOther], data, trusted, revoked).publicKey, other.publicKey.toString('base64'));
    });

    it('needs at least one signature and one usable key', () => {
      throwsCode(() => verifyEd25519([], data, trusted), 'ERR_SIGNATURE_MISSING');
      throwsCode(() => verifyEd25519([sigGood], data, new Ed25519KeySet()), 'ERR_KEY_UNTRUSTED');
      throwsCode(() => verifyEd25519([sigStranger], data, trusted, new Ed25519KeySet([good.publicKey, other.publicKey])), 'ERR_KEY_UNTRUSTED');
    });

    it('does not crash on degenerate public keys', () => {
      const weird = new Ed25519KeySet([new Uint8Array(32), new Uint8Array(32).fill(0xff)]);
      throwsCode(() => verifyEd25519([sigGood, new Uint8Array(64)], data, weird), 'ERR_SIGNATURE_INVALID');
    });
  });
});
