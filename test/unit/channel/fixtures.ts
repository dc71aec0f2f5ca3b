/**
 * Shared fixtures for the channel tests: keys, a device, valid messages,
 * and a helper that signs arbitrary payload text the way a hostile or
 * buggy sender might.
 */
import { ed25519KeyPairFromSeed, Ed25519KeySet, type Ed25519KeyPair } from '../../../agent/src/sign/index';
import {
  buildAnnouncement, buildCommand, encodeEnvelope, signMessage, type Announcement, type Command, type MessageTrust,
} from '../../../agent/src/channel/index';

export const operatorKey: Ed25519KeyPair = ed25519KeyPairFromSeed(Buffer.alloc(32, 1));
export const strangerKey: Ed25519KeyPair = ed25519KeyPairFromSeed(Buffer.alloc(32, 2));
export const revokedKey: Ed25519KeyPair = ed25519KeyPairFromSeed(Buffer.alloc(32, 3));

export const trust: MessageTrust = {
  ed25519: { trusted: new Ed25519KeySet([operatorKey.publicKey, revokedKey.publicKey]), revoked: new Ed25519KeySet([revokedKey.publicKey]) },
};

export const device = { id: 'dev-0001', fleet: 'acme', hardware: 'rpi4', tags: ['lab', 'eu'] };
export const COMMIT = 'c0ffee'.padEnd(64, '0');
/** A fixed "now" for tests that judge expiry: 2025-06-01T12:00:00Z. */
export const NOW = Date.parse('2025-06-01T12:00:00Z');

export function announcement(over: Partial<Parameters<typeof buildAnnouncement>[0]> = {}): Announcement {
  return buildAnnouncement({
    fleet: 'acme', channel: 'stable', ref: 'acme/rpi4/stable', commit: COMMIT, version: '2025.06.1',
    rollout: { id: 'r-2025-06', waves: [{ name: 'canary', percent: 5, open: true }, { name: 'all', percent: 100, open: false }] },
    created: new Date(NOW - 3600_000), ...over,
  });
}

export function command(over: Partial<Parameters<typeof buildCommand>[0]> = {}): Command {
  return buildCommand({ fleet: 'acme', target: { device: device.id }, kind: 'check-now', created: new Date(NOW - 60_000), ...over } as Parameters<typeof buildCommand>[0]);
}

/** Signs `payload` (or raw `payloadText`) with the given ed25519 keys and returns the MQTT bytes. */
export async function signed(type: 'announcement' | 'command', payload: object, keys: Ed25519KeyPair[] = [operatorKey], payloadText?: string): Promise<Buffer> {
  return encodeEnvelope(await signMessage(type, payload, { ed25519: keys.map((k) => k.secretKey) }, { payloadText }));
}
