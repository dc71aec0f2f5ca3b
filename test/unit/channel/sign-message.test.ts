import { strict as assert } from 'node:assert';
import { isCanopyError } from '../../../agent/src/core/errors';
import {
  MAX_COMMAND_LIFETIME_SECONDS, buildAnnouncement, buildCommand, newNonce, openEnvelope, signMessage,
} from '../../../agent/src/channel/index';
import { COMMIT, operatorKey, trust } from './fixtures';

const invalid = (fn: () => unknown, re: RegExp) => assert.throws(fn, (e) => isCanopyError(e, 'ERR_INVALID_ARGUMENT') && re.test(e.message));

describe('channel/sign-message', () => {
  it('makes fresh 128-bit nonces in base64url', () => {
    const a = newNonce();
    assert.match(a, /^[A-Za-z0-9_-]{22}$/);
    assert.notEqual(a, newNonce());
  });

  it('builds commands with a lifetime and checks them as a device would', () => {
    const c = buildCommand({ fleet: 'acme', target: { tag: 'lab' }, kind: 'install', args: { commit: COMMIT }, created: new Date(0), ttlSeconds: 90 });
    assert.equal(c.created, '1970-01-01T00:00:00.000Z');
    assert.equal(c.expires, '1970-01-01T00:01:30.000Z');
    invalid(() => buildCommand({ fleet: 'acme', target: { device: 'd' }, kind: 'install', args: {} }), /command: args/);
    invalid(() => buildCommand({ fleet: 'acme', target: { device: 'd' }, kind: 'check-now', ttlSeconds: MAX_COMMAND_LIFETIME_SECONDS + 1 }), /lifetime/);
    invalid(() => buildCommand({ fleet: 'a c', target: { device: 'd' }, kind: 'check-now' }), /fleet/);
  });

  it('builds announcements and refuses waves that do not grow', () => {
    const input = { fleet: 'acme', channel: 'stable', ref: 'os/main', commit: COMMIT, version: '1', rollout: { id: 'r', waves: [{ name: 'all', percent: 100, open: true }] } };
    const a = buildAnnouncement(input);
    assert.equal(a.type, 'announcement');
    assert.ok(Date.parse(a.expires) - Date.parse(a.created) === 30 * 24 * 3600 * 1000);
    invalid(() => buildAnnouncement({ ...input, rollout: { id: 'r', waves: [{ name: 'a', percent: 60, open: true }, { name: 'b', percent: 40, open: true }] } }), /greater/);
    invalid(() => buildAnnouncement({ ...input, commit: 'abc' }), /commit/);
  });

  it('signs what a device then opens, and refuses to sign without a key or beyond the size limit', async () => {
    const c = buildCommand({ fleet: 'acme', target: { device: 'dev-0001' }, kind: 'pin' });
    const env = await signMessage('command', c, { ed25519: [operatorKey.secretKey.toString('base64')] });
    const r = await openEnvelope(Buffer.from(JSON.stringify(env)), 'command', trust);
    assert.ok(r.ok && r.type === 'command' && r.payload.kind === 'pin');
    await assert.rejects(signMessage('command', c, {}), (e) => isCanopyError(e, 'ERR_INVALID_ARGUMENT') && /no signing key/.test(e.message));
    await assert.rejects(
      signMessage('command', { ...c, pad: 'x'.repeat(70_000) }, { ed25519: [operatorKey.secretKey] }),
      (e) => isCanopyError(e, 'ERR_INVALID_ARGUMENT') && /devices accept at most/.test(e.message),
    );
  });
});
