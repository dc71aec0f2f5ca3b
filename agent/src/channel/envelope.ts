/**
 * Signed envelopes: the format, the signed bytes, and opening an envelope
 * (size, JSON, version, schema, signatures, payload). Identity, expiry and
 * replay checks, which need the device and its clock, are in
 * message-gate.ts.
 *
 * The signed bytes are the ASCII signing context `canopy-message-v1\n`
 * followed by the UTF-8 bytes of the `payload` string. The payload is
 * carried as a string, not as a nested object, so no JSON canonical form
 * is needed: whatever bytes the signer produced are exactly what is
 * checked, and a receiver parses them only after the check.
 *
 * The order of checks decides which reason a message gets; PROTOCOL.md
 * lists it and a third-party receiver should follow it.
 */
import { isCanopyError } from '../core/errors';
import { verifyEd25519, verifyOpenPgp } from '../sign/index';
import type { MessageTrust } from './message-trust';
import type { Announcement, Command, Envelope, EnvelopeSignature, SignedType } from './messages';
import {
  MAX_COMMAND_LIFETIME_SECONDS, MAX_MESSAGE_BYTES, PROTOCOL_VERSION, SIGNING_CONTEXT, parseTimestamp, type RejectionReason,
} from './protocol';
import { checkWaves } from './rollout';
import { validateAnnouncement, validateCommand, validateEnvelope } from './validate';

/** Which key made the signature that was accepted. */
export interface Signer {
  alg: 'ed25519' | 'openpgp';
  /** ed25519: base64 public key; openpgp: primary key fingerprint. */
  key: string;
}

/** Why a message was refused. */
export interface Rejection {
  reason: RejectionReason;
  /** For people and logs; names the field or key involved. */
  message: string;
  /** The nonce the payload claims, when it could be read (not proof of anything unless the signature passed). */
  nonce?: string;
}

/** An opened envelope: the verified, schema-checked payload. */
export type Opened =
  | { ok: true; type: 'announcement'; payload: Announcement; signer: Signer; envelope: Envelope }
  | { ok: true; type: 'command'; payload: Command; signer: Signer; envelope: Envelope }
  | { ok: false; rejection: Rejection };

/** The bytes a signature covers for a payload string. */
export function signingBytes(payload: string): Buffer {
  return Buffer.concat([Buffer.from(SIGNING_CONTEXT, 'ascii'), Buffer.from(payload, 'utf8')]);
}

/** Builds an envelope (signatures made over {@link signingBytes} of `payload`). */
export function buildEnvelope(type: SignedType, payload: string, signatures: EnvelopeSignature[]): Envelope {
  return { v: PROTOCOL_VERSION, type, payload, signatures };
}

/** The MQTT payload of an envelope. */
export function encodeEnvelope(envelope: Envelope): Buffer {
  return Buffer.from(JSON.stringify(envelope), 'utf8');
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const reject = (reason: RejectionReason, message: string, nonce?: string): { ok: false; rejection: Rejection } =>
  ({ ok: false, rejection: nonce === undefined ? { reason, message } : { reason, message, nonce } });

export interface OpenOptions {
  /** The time OpenPGP key expiry and revocation are judged at (default now). */
  now?: Date;
}

/**
 * Opens an envelope received for `expected` (the topic's message type).
 * Never throws for bad input: every refusal is a {@link Rejection}.
 */
export async function openEnvelope(bytes: Uint8Array, expected: SignedType, trust: MessageTrust, opts: OpenOptions = {}): Promise<Opened> {
  if (bytes.length > MAX_MESSAGE_BYTES) return reject('too-large', `message is ${bytes.length} bytes; at most ${MAX_MESSAGE_BYTES} are accepted`);
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
  } catch (e) {
    return reject('malformed', `message is not JSON: ${(e as Error).message}`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return reject('malformed', 'message is not a JSON object');
  const o = doc as Record<string, unknown>;
  const versionProblem = checkVersion(o.v, 'envelope');
  if (versionProblem) return versionProblem;
  const claimed = claimedNonce(o.payload);
  if (o.signatures === undefined || (Array.isArray(o.signatures) && o.signatures.length === 0)) {
    return reject('unsigned', 'message carries no signatures', claimed);
  }
  const env = validateEnvelope(o);
  if (!env.ok) return reject('malformed', `envelope: ${env.message}`, claimed);
  const envelope = env.value;
  if (envelope.type !== expected) return reject('malformed', `envelope type is ${envelope.type}, but this topic carries ${expected}s`, claimed);
  if (LONE_SURROGATE.test(envelope.payload)) return reject('malformed', 'payload is not valid Unicode (lone surrogate)', claimed);

  const signed = await checkSignatures(envelope.signatures, signingBytes(envelope.payload), trust, opts);
  if ('reason' in signed) return reject(signed.reason, signed.message, claimed);

  let payload: unknown;
  try {
    payload = JSON.parse(envelope.payload);
  } catch (e) {
    return reject('malformed', `payload is not JSON: ${(e as Error).message}`);
  }
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) return reject('malformed', 'payload is not a JSON object');
  const pv = checkVersion((payload as Record<string, unknown>).v, 'payload');
  if (pv) return { ok: false, rejection: { ...pv.rejection, nonce: claimed } };
  if ((payload as Record<string, unknown>).type !== expected) {
    return reject('malformed', `payload type is ${JSON.stringify((payload as Record<string, unknown>).type)}, expected ${expected}`, claimed);
  }
  if (expected === 'announcement') {
    const a = validateAnnouncement(payload);
    if (!a.ok) return reject('malformed', `payload: ${a.message}`);
    const problem = announcementProblem(a.value);
    if (problem) return reject('malformed', problem);
    return { ok: true, type: 'announcement', payload: a.value, signer: signed, envelope };
  }
  const c = validateCommand(payload);
  if (!c.ok) return reject('malformed', `payload: ${c.message}`, claimed);
  const problem = commandProblem(c.value);
  if (problem) return reject('malformed', problem, claimed);
  return { ok: true, type: 'command', payload: c.value, signer: signed, envelope };
}

function checkVersion(v: unknown, what: string): { ok: false; rejection: Rejection } | undefined {
  if (v === undefined) return reject('malformed', `${what} has no version field v`);
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) return reject('malformed', `${what} version v must be a positive integer, got ${JSON.stringify(v)}`);
  if (v !== PROTOCOL_VERSION) return reject('unsupported-version', `${what} is version ${v}; this device speaks version ${PROTOCOL_VERSION}`);
  return undefined;
}

/** The nonce a payload string claims, if it can be read safely; for correlating refusals only. */
function claimedNonce(payload: unknown): string | undefined {
  if (typeof payload !== 'string' || payload.length > MAX_MESSAGE_BYTES) return undefined;
  try {
    const n = (JSON.parse(payload) as { nonce?: unknown })?.nonce;
    return typeof n === 'string' && /^[A-Za-z0-9_-]{1,128}$/.test(n) ? n : undefined;
  } catch {
    return undefined;
  }
}

function announcementProblem(a: Announcement): string | undefined {
  const waves = checkWaves(a.rollout.waves);
  if (waves) return waves;
  const created = parseTimestamp(a.created);
  const expires = parseTimestamp(a.expires);
  if (!Number.isFinite(created)) return `created is not a valid time: ${a.created}`;
  if (!Number.isFinite(expires)) return `expires is not a valid time: ${a.expires}`;
  if (expires < created) return 'expires is before created';
  return undefined;
}

function commandProblem(c: Command): string | undefined {
  const created = parseTimestamp(c.created);
  const expires = parseTimestamp(c.expires);
  if (!Number.isFinite(created)) return `created is not a valid time: ${c.created}`;
  if (!Number.isFinite(expires)) return `expires is not a valid time: ${c.expires}`;
  if (expires < created) return 'expires is before created';
  if (expires - created > MAX_COMMAND_LIFETIME_SECONDS * 1000) return `a command may live at most ${MAX_COMMAND_LIFETIME_SECONDS} seconds (expires - created)`;
  return undefined;
}

/** The more telling failure wins when several engines fail. */
const FAILURE_RANK: RejectionReason[] = ['revoked-key', 'bad-signature', 'unknown-key', 'unsigned'];

async function checkSignatures(
  sigs: readonly EnvelopeSignature[],
  data: Buffer,
  trust: MessageTrust,
  opts: OpenOptions,
): Promise<Signer | { reason: RejectionReason; message: string }> {
  const ed = sigs.filter((s) => s.alg === 'ed25519');
  const pgp = sigs.filter((s) => s.alg === 'openpgp');
  if (ed.length + pgp.length === 0) {
    return { reason: 'unsigned', message: `no signature by a supported engine (ed25519, openpgp); found ${sigs.map((s) => s.alg).join(', ')}` };
  }
  const failures: Array<{ reason: RejectionReason; message: string }> = [];
  if (ed.length > 0) {
    const r = checkEd25519(ed, data, trust);
    if ('key' in r) return r;
    failures.push(r);
  }
  if (pgp.length > 0) {
    const r = await checkOpenPgp(pgp, data, trust, opts);
    if ('key' in r) return r;
    failures.push(r);
  }
  failures.sort((a, b) => FAILURE_RANK.indexOf(a.reason) - FAILURE_RANK.indexOf(b.reason));
  return failures[0];
}

function checkEd25519(sigs: readonly EnvelopeSignature[], data: Buffer, trust: MessageTrust): Signer | { reason: RejectionReason; message: string } {
  if (!trust.ed25519 || trust.ed25519.trusted.size === 0) {
    return { reason: 'unknown-key', message: 'signed with ed25519, but this device trusts no ed25519 key' };
  }
  const { trusted, revoked } = trust.ed25519;
  try {
    const r = verifyEd25519(sigs.map((s) => Buffer.from(s.sig, 'base64')), data, trusted, revoked);
    return { alg: 'ed25519', key: r.publicKey };
  } catch (e) {
    if (!isCanopyError(e)) return { reason: 'bad-signature', message: `ed25519 verification failed: ${(e as Error).message}` };
    if (e.code === 'ERR_KEY_REVOKED') return { reason: 'revoked-key', message: e.message };
    if (e.code === 'ERR_KEY_UNTRUSTED') return { reason: 'unknown-key', message: e.message };
    if (e.code === 'ERR_SIGNATURE_INVALID' && e.details.size !== undefined) return { reason: 'bad-signature', message: e.message };
    const claimsTrusted = sigs.some((s) => {
      const k = Buffer.from(s.key, 'base64');
      return k.length === 32 && s.key === k.toString('base64') && trusted.has(k) && !(revoked?.has(k) ?? false);
    });
    return claimsTrusted
      ? { reason: 'bad-signature', message: `an ed25519 signature names a trusted key but does not verify: ${e.message}` }
      : { reason: 'unknown-key', message: `no ed25519 signature was made by a trusted key (signed by ${sigs.map((s) => s.key).join(', ')})` };
  }
}

async function checkOpenPgp(
  sigs: readonly EnvelopeSignature[],
  data: Buffer,
  trust: MessageTrust,
  opts: OpenOptions,
): Promise<Signer | { reason: RejectionReason; message: string }> {
  if (!trust.openpgp || trust.openpgp.size === 0) {
    return { reason: 'unknown-key', message: 'signed with OpenPGP, but this device trusts no OpenPGP key' };
  }
  try {
    const r = await verifyOpenPgp(sigs.map((s) => Buffer.from(s.sig, 'base64')), data, trust.openpgp, { now: opts.now });
    return { alg: 'openpgp', key: r.primaryFingerprint };
  } catch (e) {
    if (!isCanopyError(e)) return { reason: 'bad-signature', message: `OpenPGP verification failed: ${(e as Error).message}` };
    const reason: RejectionReason = e.code === 'ERR_KEY_REVOKED' ? 'revoked-key'
      : e.code === 'ERR_KEY_UNTRUSTED' || e.code === 'ERR_KEY_EXPIRED' ? 'unknown-key'
        : e.code === 'ERR_SIGNATURE_MISSING' ? 'unsigned' : 'bad-signature';
    return { reason, message: e.message };
  }
}
