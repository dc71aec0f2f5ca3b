/**
 * The operator side of signed messages: build announcements and commands
 * with sensible lifetimes and fresh nonces, check them against the same
 * schemas and rules a device applies, and sign them into envelopes.
 *
 * ed25519 signing runs on node:crypto (sign/ed25519.ts); OpenPGP signing
 * uses sign/openpgp.ts, which the device bundle carries anyway for commit
 * verification. Nothing here pulls in more than the device already has,
 * so this file is exported from the channel module and left out of the
 * device bundle by tree shaking when the device does not call it.
 */
import { randomBytes } from 'node:crypto';
import { CanopyError } from '../core/errors';
import { decodeEd25519SecretKey, encodeEd25519Key, readOpenPgpKeyring, signEd25519, signOpenPgp } from '../sign/index';
import { buildEnvelope, encodeEnvelope, signingBytes } from './envelope';
import type { Announcement, Command, CommandTarget, Envelope, EnvelopeSignature, SignedType, Wave } from './messages';
import { MAX_COMMAND_LIFETIME_SECONDS, MAX_MESSAGE_BYTES, PROTOCOL_VERSION, formatTimestamp } from './protocol';
import { checkWaves } from './rollout';
import { validateAnnouncement, validateCommand } from './validate';

/** The keys to sign with; at least one. */
export interface SigningKeys {
  /** ed25519 secret keys: 64 bytes (seed ‖ public) raw or base64, as `ostree sign` takes them. */
  ed25519?: ReadonlyArray<string | Uint8Array>;
  /** OpenPGP secret keys (armoured or binary), with their passphrases. */
  openpgp?: ReadonlyArray<{ key: string | Uint8Array; passphrase?: string }>;
}

/** A fresh command nonce: 16 random bytes in base64url (22 characters). */
export function newNonce(): string {
  return randomBytes(16).toString('base64url');
}

export interface AnnouncementInput {
  fleet: string;
  channel: string;
  ref: string;
  commit: string;
  version: string;
  rollout: { id: string; waves: Wave[] };
  hardware?: string[];
  notes?: string;
  /** Default now. */
  created?: Date;
  /** Lifetime in seconds (default 30 days); the operator re-signs before it runs out. */
  ttlSeconds?: number;
}

/**
 * Builds an announcement and checks it as a device would.
 *
 * @throws ERR_INVALID_ARGUMENT naming the field that is wrong.
 */
export function buildAnnouncement(input: AnnouncementInput): Announcement {
  const created = input.created ?? new Date();
  const a: Announcement = {
    v: PROTOCOL_VERSION, type: 'announcement', fleet: input.fleet, channel: input.channel, ref: input.ref, commit: input.commit,
    version: input.version, ...(input.hardware ? { hardware: input.hardware } : {}), ...(input.notes ? { notes: input.notes } : {}),
    rollout: input.rollout, created: formatTimestamp(created.getTime()),
    expires: formatTimestamp(created.getTime() + (input.ttlSeconds ?? 30 * 24 * 3600) * 1000),
  };
  const v = validateAnnouncement(a);
  if (!v.ok) throw new CanopyError('ERR_INVALID_ARGUMENT', `announcement: ${v.message}`);
  const waves = checkWaves(a.rollout.waves);
  if (waves) throw new CanopyError('ERR_INVALID_ARGUMENT', `announcement: ${waves}`);
  return a;
}

export type CommandInput = {
  fleet: string;
  target: CommandTarget;
  /** Default now. */
  created?: Date;
  /** Lifetime in seconds (default 1 hour, at most 7 days). */
  ttlSeconds?: number;
  /** Default: a fresh {@link newNonce}. */
  nonce?: string;
} & Pick<Command, 'kind' | 'args'>;

/**
 * Builds a command and checks it as a device would.
 *
 * @throws ERR_INVALID_ARGUMENT naming the field that is wrong.
 */
export function buildCommand(input: CommandInput): Command {
  const created = input.created ?? new Date();
  const ttl = input.ttlSeconds ?? 3600;
  if (!(ttl > 0 && ttl <= MAX_COMMAND_LIFETIME_SECONDS)) {
    throw new CanopyError('ERR_INVALID_ARGUMENT', `a command's lifetime must be 1..${MAX_COMMAND_LIFETIME_SECONDS} seconds, got ${ttl}`);
  }
  const c = {
    v: PROTOCOL_VERSION, type: 'command', fleet: input.fleet, target: input.target, nonce: input.nonce ?? newNonce(),
    created: formatTimestamp(created.getTime()), expires: formatTimestamp(created.getTime() + ttl * 1000),
    kind: input.kind, ...(input.args !== undefined ? { args: input.args } : {}),
  } as Command;
  const v = validateCommand(c);
  if (!v.ok) throw new CanopyError('ERR_INVALID_ARGUMENT', `command: ${v.message}`);
  return c;
}

/**
 * Signs a payload into an envelope, once per key. The payload text is
 * exactly `JSON.stringify(payload)`; pass `payloadText` to sign other
 * bytes verbatim (tests of hostile senders do).
 *
 * @throws ERR_INVALID_ARGUMENT when no key is given, a key is malformed or
 *   locked, or the envelope would exceed the message size limit;
 *   ERR_KEY_REVOKED / ERR_KEY_EXPIRED for an unusable OpenPGP key.
 */
export async function signMessage(
  type: SignedType,
  payload: Announcement | Command | object,
  keys: SigningKeys,
  opts: { payloadText?: string } = {},
): Promise<Envelope> {
  const text = opts.payloadText ?? JSON.stringify(payload);
  const data = signingBytes(text);
  const signatures: EnvelopeSignature[] = [];
  for (const k of keys.ed25519 ?? []) {
    const pair = decodeEd25519SecretKey(k);
    signatures.push({ alg: 'ed25519', key: encodeEd25519Key(pair.publicKey), sig: signEd25519(pair.secretKey, data).toString('base64') });
  }
  for (const k of keys.openpgp ?? []) {
    const sig = await signOpenPgp(data, k.key, { passphrase: k.passphrase });
    const ring = await readOpenPgpKeyring([{ source: 'signing key', data: k.key }]);
    signatures.push({ alg: 'openpgp', key: ring.list()[0].fingerprint, sig: Buffer.from(sig).toString('base64') });
  }
  if (signatures.length === 0) throw new CanopyError('ERR_INVALID_ARGUMENT', 'no signing key given');
  const env = buildEnvelope(type, text, signatures);
  const size = encodeEnvelope(env).length;
  if (size > MAX_MESSAGE_BYTES) throw new CanopyError('ERR_INVALID_ARGUMENT', `the signed ${type} is ${size} bytes; devices accept at most ${MAX_MESSAGE_BYTES}`);
  return env;
}
