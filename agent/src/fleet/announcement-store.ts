/**
 * The channel's retained announcement as the operator's record of a
 * rollout: read it back (and check that it is ours: a signature by one of
 * the operator's keys, as a device would check it), and publish the next
 * version of it, signed, with a `created` strictly newer than the one it
 * replaces (devices refuse older ones as replayed).
 */
import { CanopyError } from '../core/errors';
import {
  buildAnnouncement, loadMessageTrust, openEnvelope, parseTimestamp, signMessage,
  type Envelope, type MessageTrust, type Signer, type SigningKeys,
} from '../channel/index';
import { decodeEd25519SecretKey, Ed25519KeySet, readOpenPgpKeyring } from '../sign/index';
import type { OperatorLink } from './operator-link';
import type { ControlledAnnouncement } from './rollout-model';

/** An announcement read from the broker, with who signed it. */
export interface CurrentAnnouncement {
  announcement: ControlledAnnouncement;
  envelope: Envelope;
  signer: Signer;
}

/** Default lifetime of an announcement: 30 days; the controller re-signs long before that. */
export const ANNOUNCEMENT_TTL_SECONDS = 30 * 24 * 3600;

/**
 * The keys that may have signed announcements this operator builds on:
 * the public halves of its own signing keys, plus key files given
 * (OSTree's `trusted.ed25519` format), e.g. a colleague's.
 *
 * @throws ERR_INVALID_ARGUMENT for a malformed secret key; as loadMessageTrust for the files.
 */
export async function operatorTrust(keys: SigningKeys, trustedFiles: readonly string[] = []): Promise<MessageTrust> {
  const fromFiles = trustedFiles.length > 0 ? await loadMessageTrust({ ed25519: trustedFiles }) : {};
  const set = new Ed25519KeySet(fromFiles.ed25519?.trusted.keys() ?? []);
  for (const k of keys.ed25519 ?? []) set.add(decodeEd25519SecretKey(k).publicKey);
  const trust: MessageTrust = {};
  if (set.size > 0) trust.ed25519 = { trusted: set, revoked: new Ed25519KeySet() };
  if (keys.openpgp?.length) trust.openpgp = await readOpenPgpKeyring(keys.openpgp.map((k, i) => ({ source: `signing key ${i + 1}`, data: k.key })));
  return trust;
}

/**
 * The retained announcement of `channel`, verified with `trust`, or
 * undefined when the channel has none.
 *
 * @throws ERR_KEY_UNTRUSTED when it is not signed by a trusted key;
 *   ERR_SIGNATURE_INVALID when it is malformed; ERR_TIMEOUT / ERR_NETWORK
 *   from the broker.
 */
export async function readAnnouncement(link: OperatorLink, channel: string, trust: MessageTrust): Promise<CurrentAnnouncement | undefined> {
  const bytes = await link.readRetained(link.topics.announcement(channel));
  if (!bytes) return undefined;
  return openAnnouncement(bytes, channel, trust);
}

/** Opens announcement bytes as {@link readAnnouncement} does. */
export async function openAnnouncement(bytes: Uint8Array, channel: string, trust: MessageTrust): Promise<CurrentAnnouncement> {
  const opened = await openEnvelope(bytes, 'announcement', trust);
  if (!opened.ok) {
    const r = opened.rejection;
    const code = r.reason === 'unknown-key' || r.reason === 'revoked-key' ? 'ERR_KEY_UNTRUSTED' : 'ERR_SIGNATURE_INVALID';
    throw new CanopyError(code, `the retained announcement of channel ${channel} is not one this operator can build on (${r.reason}: ${r.message}); pass --trusted-keys with its signer's public key, or publish a new release`, { channel, reason: r.reason });
  }
  if (opened.type !== 'announcement') throw new CanopyError('ERR_SIGNATURE_INVALID', `the retained message of channel ${channel} is not an announcement`);
  if (opened.payload.channel !== channel) {
    throw new CanopyError('ERR_SIGNATURE_INVALID', `the retained announcement on channel ${channel} names channel ${opened.payload.channel}`, { channel });
  }
  return { announcement: opened.payload as ControlledAnnouncement, envelope: opened.envelope, signer: opened.signer };
}

/**
 * Signs and publishes `a` as the channel's retained announcement, created
 * now (or 1 ms after `previous`, whichever is later). Returns what was
 * published.
 *
 * @throws ERR_INVALID_ARGUMENT when the announcement does not pass the
 *   device's checks or no key is given; ERR_NETWORK / ERR_TIMEOUT.
 */
export async function publishAnnouncement(
  link: OperatorLink,
  a: ControlledAnnouncement,
  keys: SigningKeys,
  opts: { now: number; previous?: ControlledAnnouncement; ttlSeconds?: number },
): Promise<ControlledAnnouncement> {
  const floor = opts.previous ? parseTimestamp(opts.previous.created) + 1 : -Infinity;
  const created = new Date(Math.max(opts.now, floor));
  const built = buildAnnouncement({
    fleet: a.fleet, channel: a.channel, ref: a.ref, commit: a.commit, version: a.version, rollout: a.rollout,
    ...(a.hardware ? { hardware: a.hardware } : {}), ...(a.notes ? { notes: a.notes } : {}),
    created, ttlSeconds: opts.ttlSeconds ?? ANNOUNCEMENT_TTL_SECONDS,
  }) as ControlledAnnouncement;
  const envelope = await signMessage('announcement', built, keys);
  await link.publishAnnouncement(a.channel, envelope);
  return built;
}
