import { strict as assert } from 'node:assert';
import * as openpgp from 'openpgp';
import {
  MAX_MESSAGE_BYTES, encodeEnvelope, openEnvelope, signMessage, signingBytes, type Envelope, type RejectionReason,
} from '../../../agent/src/channel/index';
import { checkEd25519, readOpenPgpKeyring } from '../../../agent/src/sign/index';
import { announcement, command, operatorKey, revokedKey, signed, strangerKey, trust } from './fixtures';

async function reason(bytes: Uint8Array, type: 'announcement' | 'command' = 'command', t = trust): Promise<RejectionReason | 'ok'> {
  const r = await openEnvelope(bytes, type, t);
  return r.ok ? 'ok' : r.rejection.reason;
}

function envelopeBytes(e: object): Buffer {
  return Buffer.from(JSON.stringify(e));
}

describe('channel/envelope', () => {
  it('signs the signing context followed by the payload\'s exact UTF-8 bytes', async () => {
    const text = '{"v":1,"type":"command","note":"größe ✓"}';
    const env = await signMessage('command', {}, { ed25519: [operatorKey.secretKey] }, { payloadText: text });
    assert.equal(env.payload, text);
    const data = Buffer.concat([Buffer.from('canopy-message-v1\n'), Buffer.from(text, 'utf8')]);
    assert.deepEqual(signingBytes(text), data);
    assert.equal(checkEd25519(operatorKey.publicKey, data, Buffer.from(env.signatures[0].sig, 'base64')), true);
    assert.equal(env.signatures[0].key, operatorKey.publicKey.toString('base64'));
  });

  it('opens a signed command and a signed announcement', async () => {
    const c = command();
    const r = await openEnvelope(await signed('command', c), 'command', trust);
    assert.ok(r.ok && r.type === 'command');
    assert.deepEqual(r.payload, c);
    assert.deepEqual(r.signer, { alg: 'ed25519', key: operatorKey.publicKey.toString('base64') });
    const a = await openEnvelope(await signed('announcement', announcement()), 'announcement', trust);
    assert.ok(a.ok && a.type === 'announcement' && a.payload.commit === announcement().commit);
  });

  it('accepts the message when one of several signatures is good', async () => {
    assert.equal(await reason(await signed('command', command(), [strangerKey, operatorKey])), 'ok');
  });

  it('refuses oversized messages before parsing them', async () => {
    assert.equal(await reason(Buffer.alloc(MAX_MESSAGE_BYTES + 1, 0x20)), 'too-large');
  });

  it('refuses what is not a JSON object, or does not match the envelope schema, as malformed', async () => {
    assert.equal(await reason(Buffer.from('{"v":1,')), 'malformed');
    assert.equal(await reason(Buffer.from('[1,2]')), 'malformed');
    assert.equal(await reason(Buffer.from('"x"')), 'malformed');
    assert.equal(await reason(envelopeBytes({ type: 'command', payload: '{}', signatures: [{ alg: 'ed25519', key: 'k', sig: 'AAAA' }] })), 'malformed');
    assert.equal(await reason(envelopeBytes({ v: 1, type: 'command', payload: 7, signatures: [{ alg: 'ed25519', key: 'k', sig: 'AAAA' }] })), 'malformed');
    assert.equal(await reason(envelopeBytes({ v: 1, type: 'command', payload: '{}', signatures: [{ alg: 'ed25519', key: 'k', sig: '!!!!' }] })), 'malformed');
  });

  it('refuses a major version it does not speak, in the envelope or in the payload', async () => {
    const env = JSON.parse((await signed('command', command())).toString()) as Envelope;
    assert.equal(await reason(envelopeBytes({ ...env, v: 2 })), 'unsupported-version');
    assert.equal(await reason(await signed('command', { ...command(), v: 2 })), 'unsupported-version');
  });

  it('refuses unsigned messages and messages signed only by engines it does not know', async () => {
    const env = JSON.parse((await signed('command', command())).toString()) as Envelope;
    assert.equal(await reason(envelopeBytes({ ...env, signatures: [] })), 'unsigned');
    const { signatures: _s, ...bare } = env;
    assert.equal(await reason(envelopeBytes(bare)), 'unsigned');
    assert.equal(await reason(envelopeBytes({ ...env, signatures: [{ ...env.signatures[0], alg: 'rsa-pss' }] })), 'unsigned');
  });

  it('refuses a changed payload signed by a trusted key as bad-signature', async () => {
    const env = JSON.parse((await signed('command', command())).toString()) as Envelope;
    const forged = { ...env, payload: env.payload.replace('check-now', 'reboot') };
    const r = await openEnvelope(envelopeBytes(forged), 'command', trust);
    assert.ok(!r.ok && r.rejection.reason === 'bad-signature', JSON.stringify(r));
    assert.equal(r.ok ? undefined : r.rejection.nonce, JSON.parse(env.payload).nonce, 'the claimed nonce is echoed for correlation');
    const short = { ...env, signatures: [{ ...env.signatures[0], sig: Buffer.alloc(10).toString('base64') }] };
    assert.equal(await reason(envelopeBytes(short)), 'bad-signature');
  });

  it('refuses keys it does not trust, and revoked keys, with their own reasons', async () => {
    assert.equal(await reason(await signed('command', command(), [strangerKey])), 'unknown-key');
    assert.equal(await reason(await signed('command', command(), [revokedKey])), 'revoked-key');
    assert.equal(await reason(await signed('command', command()), 'command', {}), 'unknown-key');
    // a stranger who claims the operator's key id gets bad-signature: the claim is checked, not believed
    const env = JSON.parse((await signed('command', command(), [strangerKey])).toString()) as Envelope;
    const claim = { ...env, signatures: [{ ...env.signatures[0], key: operatorKey.publicKey.toString('base64') }] };
    assert.equal(await reason(envelopeBytes(claim)), 'bad-signature');
  });

  it('never lets a message of one type pass as the other', async () => {
    const cmd = await signed('command', command());
    assert.equal(await reason(cmd, 'announcement'), 'malformed');
    // inner type differs from the envelope type, both signed
    const env = await signMessage('announcement', command(), { ed25519: [operatorKey.secretKey] });
    assert.equal(await reason(encodeEnvelope(env), 'announcement'), 'malformed');
  });

  it('refuses signed payloads that break the schema or the protocol rules as malformed', async () => {
    assert.equal(await reason(await signed('command', {}, [operatorKey], 'not json')), 'malformed');
    assert.equal(await reason(await signed('command', { ...command(), kind: 'format-disk' })), 'malformed');
    const long = { ...command(), created: '2025-01-01T00:00:00Z', expires: '2025-03-01T00:00:00Z' };
    assert.equal(await reason(await signed('command', long)), 'malformed', 'a command may live 7 days at most');
    const backwards = { ...command(), created: '2025-01-02T00:00:00Z', expires: '2025-01-01T00:00:00Z' };
    assert.equal(await reason(await signed('command', backwards)), 'malformed');
    const a = announcement();
    const waves = { ...a, rollout: { id: 'r', waves: [{ name: 'x', percent: 50, open: true }, { name: 'y', percent: 20, open: true }] } };
    assert.equal(await reason(await signed('announcement', waves), 'announcement'), 'malformed');
    assert.equal(await reason(await signed('command', {}, [operatorKey], '{"v":1,"type":"command","x":"\\ud800"}')), 'malformed');
  });

  it('verifies OpenPGP signatures against the trusted keyring', async () => {
    const { privateKey, publicKey } = await openpgp.generateKey({ type: 'ecc', curve: 'ed25519Legacy', userIDs: [{ name: 'operator' }], format: 'armored' });
    const other = await openpgp.generateKey({ type: 'ecc', curve: 'ed25519Legacy', userIDs: [{ name: 'other' }], format: 'armored' });
    const keyring = await readOpenPgpKeyring([{ source: 'operator.asc', data: publicKey }]);
    const c = command();
    const env = await signMessage('command', c, { openpgp: [{ key: privateKey }] });
    assert.equal(env.signatures[0].alg, 'openpgp');
    const ok = await openEnvelope(encodeEnvelope(env), 'command', { openpgp: keyring });
    assert.ok(ok.ok && ok.signer.alg === 'openpgp' && ok.signer.key === env.signatures[0].key, JSON.stringify(ok));
    const bad = await signMessage('command', c, { openpgp: [{ key: other.privateKey }] });
    assert.equal(await reason(encodeEnvelope(bad), 'command', { openpgp: keyring }), 'unknown-key');
    const tampered = { ...env, payload: env.payload.replace('check-now', 'reboot') };
    assert.equal(await reason(envelopeBytes(tampered), 'command', { openpgp: keyring }), 'bad-signature');
    assert.equal(await reason(encodeEnvelope(env), 'command', trust), 'unknown-key', 'no OpenPGP keyring configured');
  });
});
