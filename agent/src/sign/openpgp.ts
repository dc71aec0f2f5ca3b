/**
 * OpenPGP signatures as OSTree uses them (`ostree.gpgsigs`): binary detached
 * signatures over the exact bytes of a `.commit` or `summary` file, checked
 * against a keyring in which every key is trusted. The only file that
 * imports openpgp.js.
 *
 * What counts as a good signature follows OSTree on GPGME (observed with
 * ostree 2022.7 pulling from a file:// remote):
 * - a signature by a key that is now expired is not good ("Key expired"),
 *   even when the key was valid at signing time;
 * - a signature by a revoked key is not good, whenever it was made;
 * - an expired signature is not good;
 * - a signature by a key outside the keyring is not good ("public key not
 *   found").
 *
 * A signature dated in the future is not refused: devices without a
 * battery-backed clock often boot in the past, and OSTree accepts it too.
 *
 * Deliberate differences (all stricter, none affects content `ostree
 * gpg-sign` writes): only binary-document signatures (class 0x00) are
 * accepted, not text-mode ones; an element must be binary packets, not ASCII
 * armour; SHA-1 and weaker digests are refused, as openpgp.js refuses them.
 *
 * openpgp.js is loaded on first use, not with this file: a device whose
 * keys are all ed25519 never pays the ~14 MiB that loading it costs.
 */
import type * as openpgp from 'openpgp';
import { CanopyError } from '../core/errors';
import { decideOpenPgp, type OpenPgpSignatureCheck, type OpenPgpSignatureStatus, type OpenPgpVerified } from './openpgp-decision';

export type { OpenPgpSignatureCheck, OpenPgpSignatureStatus, OpenPgpVerified } from './openpgp-decision';

let library: Promise<typeof openpgp> | undefined;

/** openpgp.js itself, loaded once on first use. */
function openpgpLibrary(): Promise<typeof openpgp> {
  library ??= import('openpgp');
  return library;
}

/** RFC 9580 numbers this file compares with (openpgp.enums, without loading the library). */
const SIGNATURE_BINARY = 0x00;
const PACKET_LITERAL_DATA = 11;

/** A file holding public (or secret) keys, armoured or binary, one or many. */
export interface KeyFile {
  /** A name for messages, usually the path. */
  source: string;
  data: string | Uint8Array;
}

/** What a keyring holds, for listings and reports. */
export interface OpenPgpKeyInfo {
  /** Primary key fingerprint, upper-case hex. */
  fingerprint: string;
  /** Primary key id (last 16 hex digits of the fingerprint). */
  keyId: string;
  /** Key ids of the subkeys. */
  subkeyIds: string[];
  userIds: string[];
  source: string;
}

/** A set of trusted public keys. Build it with {@link readOpenPgpKeyring}. */
export class OpenPgpKeyring {
  readonly #keys: openpgp.Key[];
  readonly #sources: string[];

  /** @internal use {@link readOpenPgpKeyring}. */
  constructor(keys: openpgp.Key[] = [], sources: string[] = []) {
    this.#keys = keys;
    this.#sources = sources;
  }

  get size(): number {
    return this.#keys.length;
  }

  list(): OpenPgpKeyInfo[] {
    return this.#keys.map((k, i) => ({
      fingerprint: k.getFingerprint().toUpperCase(),
      keyId: hexId(k.getKeyID()),
      subkeyIds: k.subkeys.map((s) => hexId(s.getKeyID())),
      userIds: k.getUserIDs(),
      source: this.#sources[i],
    }));
  }

  /** @internal keys holding a (sub)key with this id. */
  candidates(id: openpgp.KeyID): Array<{ key: openpgp.Key; signer: openpgp.Key | openpgp.Subkey }> {
    const out: Array<{ key: openpgp.Key; signer: openpgp.Key | openpgp.Subkey }> = [];
    for (const key of this.#keys) for (const signer of key.getKeys(id)) out.push({ key, signer });
    return out;
  }
}

/**
 * Builds a keyring from key files, as OSTree does from a remote's keyring,
 * `gpgkeypath` files and `trusted.gpg.d`: every key in every file is trusted.
 * A file may be binary (`gpg --export`, several keys concatenated) or
 * armoured (one or several armour blocks). Secret keys contribute their
 * public part. A key found twice is merged, so a later copy can add a
 * revocation or a new expiry date.
 *
 * @throws ERR_CONFIG_INVALID when a file holds no key or cannot be parsed.
 */
export async function readOpenPgpKeyring(files: readonly KeyFile[]): Promise<OpenPgpKeyring> {
  const keys: openpgp.Key[] = [];
  const sources: string[] = [];
  for (const f of files) {
    let found: openpgp.Key[];
    try {
      found = await readKeyFile(f.data);
    } catch (e) {
      throw new CanopyError('ERR_CONFIG_INVALID', `${f.source}: not an OpenPGP key file: ${(e as Error).message}`, { source: f.source }, { cause: e });
    }
    if (found.length === 0) throw new CanopyError('ERR_CONFIG_INVALID', `${f.source}: holds no OpenPGP key`, { source: f.source });
    for (const k of found) {
      const pub = k.isPrivate() ? k.toPublic() : k;
      const i = keys.findIndex((x) => x.getFingerprint() === pub.getFingerprint());
      if (i < 0) {
        keys.push(pub);
        sources.push(f.source);
      } else {
        keys[i] = await keys[i].update(pub);
      }
    }
  }
  return new OpenPgpKeyring(keys, sources);
}

const ARMOR_RE = /-----BEGIN PGP (PUBLIC|PRIVATE) KEY BLOCK-----[\s\S]*?-----END PGP \1 KEY BLOCK-----/g;

async function readKeyFile(data: string | Uint8Array): Promise<openpgp.Key[]> {
  const { readKeys } = await openpgpLibrary();
  const text = typeof data === 'string' ? data : looksArmored(data) ? Buffer.from(data).toString('utf8') : undefined;
  if (text === undefined) return readKeys({ binaryKeys: data as Uint8Array });
  const blocks = text.match(ARMOR_RE) ?? [];
  if (blocks.length === 0) throw new Error('no armoured key block');
  const out: openpgp.Key[] = [];
  for (const b of blocks) out.push(...(await readKeys({ armoredKeys: b })));
  return out;
}

function looksArmored(b: Uint8Array): boolean {
  return Buffer.from(b.subarray(0, 256)).toString('latin1').includes('-----BEGIN PGP');
}

function hexId(id: openpgp.KeyID): string {
  return id.toHex().toUpperCase();
}

/** Options for checking signatures. */
export interface OpenPgpCheckOptions {
  /** The time expiry and revocation are judged at (default: now). */
  now?: Date;
}

const MAX_PACKETS = 256;
const STRICT: openpgp.PartialConfig = { ignoreUnsupportedPackets: false, ignoreMalformedPackets: false };

/**
 * Checks every signature packet in `signatures` (the `ostree.gpgsigs`
 * elements; each may hold one or several packets) over `data`, without
 * deciding. Use it to show signatures; use {@link verifyOpenPgp} to decide.
 *
 * @throws ERR_SIGNATURE_MISSING when there are no elements;
 *   ERR_SIGNATURE_INVALID when an element is not a list of binary OpenPGP
 *   signature packets (garbage, truncated, armoured, or other packet types);
 *   OSTree (GPGME) refuses such a set as a whole too.
 */
export async function checkOpenPgpSignatures(
  signatures: readonly Uint8Array[],
  data: Uint8Array,
  keyring: OpenPgpKeyring,
  opts: OpenPgpCheckOptions = {},
): Promise<OpenPgpSignatureCheck[]> {
  if (signatures.length === 0) throw new CanopyError('ERR_SIGNATURE_MISSING', 'no OpenPGP signatures');
  const packets: Array<{ packet: openpgp.SignaturePacket; element: number }> = [];
  for (let element = 0; element < signatures.length; element++) {
    for (const packet of await readPackets(signatures[element], element)) packets.push({ packet, element });
    if (packets.length > MAX_PACKETS) {
      throw new CanopyError('ERR_SIGNATURE_INVALID', `more than ${MAX_PACKETS} OpenPGP signature packets`, { engine: 'openpgp', limit: MAX_PACKETS });
    }
  }
  const message = await (await openpgpLibrary()).createMessage({ binary: data });
  const literal = message.packets.findPacket(PACKET_LITERAL_DATA);
  const now = opts.now ?? new Date();
  const out: OpenPgpSignatureCheck[] = [];
  for (let index = 0; index < packets.length; index++) {
    out.push(await checkPacket(packets[index].packet, literal, keyring, now, index, packets[index].element));
  }
  return out;
}

async function readPackets(bytes: Uint8Array, element: number): Promise<openpgp.SignaturePacket[]> {
  try {
    const sig = await (await openpgpLibrary()).readSignature({ binarySignature: bytes, config: STRICT });
    const list = [...sig.packets];
    if (list.length === 0) throw new Error('no signature packet');
    return list;
  } catch (e) {
    throw new CanopyError('ERR_SIGNATURE_INVALID', `OpenPGP signature element ${element} (${bytes.length} bytes) is not a binary signature packet: ${(e as Error).message}`, { engine: 'openpgp', element, size: bytes.length }, { cause: e });
  }
}

async function checkPacket(
  p: openpgp.SignaturePacket,
  literal: unknown,
  keyring: OpenPgpKeyring,
  now: Date,
  index: number,
  element: number,
): Promise<OpenPgpSignatureCheck> {
  const keyId = hexId(p.issuerKeyID);
  const base = { index, element, keyId, created: p.created ?? undefined };
  if (p.signatureType !== SIGNATURE_BINARY) {
    return { ...base, status: 'invalid', message: `signature class 0x${(p.signatureType ?? 0).toString(16).padStart(2, '0')} is not a binary document signature (0x00)` };
  }
  if (/^0+$/.test(keyId)) return { ...base, status: 'invalid', message: 'signature does not name its issuer key' };
  const candidates = keyring.candidates(p.issuerKeyID);
  if (candidates.length === 0) return { ...base, status: 'untrusted', message: `signing key ${keyId} is not in the trusted keyring` };
  let last: OpenPgpSignatureCheck | undefined;
  for (const { key, signer } of candidates) {
    const who = {
      fingerprint: signer.getFingerprint().toUpperCase(),
      primaryFingerprint: key.getFingerprint().toUpperCase(),
      userId: key.getUserIDs()[0],
    };
    last = { ...base, ...who, ...(await judge(p, literal, key, signer, now, keyId)) };
    if (last.status !== 'bad') return last;
  }
  return last!;
}

async function judge(
  p: openpgp.SignaturePacket,
  literal: unknown,
  key: openpgp.Key,
  signer: openpgp.Key | openpgp.Subkey,
  now: Date,
  keyId: string,
): Promise<{ status: OpenPgpSignatureStatus; message: string }> {
  try {
    // date null: only the mathematics, the digest policy and critical subpackets.
    await p.verify(signer.keyPacket, SIGNATURE_BINARY, literal as object, null as unknown as Date, true);
  } catch (e) {
    const msg = (e as Error).message;
    if (/^(Signed digest did not match|Signature verification failed)$/.test(msg)) {
      return { status: 'bad', message: `signature by ${keyId} does not match the signed data` };
    }
    return { status: 'invalid', message: `signature by ${keyId} cannot be used: ${msg}` };
  }
  const isSub = signer !== key;
  if (await key.isRevoked(undefined, undefined, now)) return { status: 'revoked', message: `key ${keyId} has been revoked` };
  if (isSub && (await (signer as openpgp.Subkey).isRevoked(null as unknown as openpgp.SignaturePacket, undefined as unknown as openpgp.PublicKeyPacket, now))) {
    return { status: 'revoked', message: `subkey ${keyId} has been revoked` };
  }
  const primaryExpiry = await key.getExpirationTime();
  if (primaryExpiry === null) return { status: 'invalid', message: `key ${hexId(key.getKeyID())} has no valid self-signature` };
  if (primaryExpiry !== Infinity && (primaryExpiry as Date) <= now) {
    return { status: 'key-expired', message: `primary key ${hexId(key.getKeyID())} expired ${(primaryExpiry as Date).toISOString()}` };
  }
  if (isSub) {
    const subExpiry = await (signer as openpgp.Subkey).getExpirationTime(now);
    if (subExpiry !== null && subExpiry !== Infinity && (subExpiry as Date) <= now) {
      return { status: 'key-expired', message: `subkey ${keyId} expired ${(subExpiry as Date).toISOString()}` };
    }
  }
  const sigExpiry = p.getExpirationTime();
  if (sigExpiry !== Infinity && (sigExpiry as Date) <= now) {
    return { status: 'signature-expired', message: `signature by ${keyId} expired ${(sigExpiry as Date).toISOString()}` };
  }
  try {
    // Was the (sub)key valid for signing when the signature was made?
    await key.getSigningKey(signer.getKeyID(), p.created ?? now);
    if (signer.getCreationTime() > (p.created ?? now)) throw new Error('the key is newer than the signature');
  } catch (e) {
    return { status: 'invalid', message: `key ${keyId} was not valid for signing when the signature was made: ${(e as Error).message}` };
  }
  return { status: 'good', message: `good signature by ${keyId}` };
}

/**
 * Decides on OpenPGP signatures over `data`: passes when one signature is
 * good (OSTree's rule). Signatures by unknown, revoked or expired keys, and
 * expired signatures, are passed over when another one is good, as OSTree
 * does. A *bad* signature (a keyring key named, data not matching) refuses
 * the set even next to a good one: GPGME stops at it, so OSTree refuses it
 * when it comes first, and we refuse it wherever it is.
 *
 * @throws ERR_SIGNATURE_MISSING when there are no signatures;
 *   ERR_SIGNATURE_INVALID for malformed packets, a bad signature, or when
 *   the best failure is an expired or unusable signature; ERR_KEY_REVOKED,
 *   ERR_KEY_EXPIRED or ERR_KEY_UNTRUSTED when that is the best failure (in
 *   this order). The message names the key ids; `details.failures` lists
 *   every packet's result.
 */
export async function verifyOpenPgp(
  signatures: readonly Uint8Array[],
  data: Uint8Array,
  keyring: OpenPgpKeyring,
  opts: OpenPgpCheckOptions = {},
): Promise<OpenPgpVerified> {
  return decideOpenPgp(await checkOpenPgpSignatures(signatures, data, keyring, opts));
}

/** Options for {@link signOpenPgp}. */
export interface OpenPgpSignOptions {
  /** Unlocks a protected secret key. */
  passphrase?: string;
  /** Which (sub)key to sign with, as a key id or fingerprint (default: the key's signing key). */
  keyId?: string;
  /** The signature's creation time (default: now). */
  date?: Date;
}

/**
 * Makes one binary detached signature packet (class 0x00) over `data`, the
 * element `ostree gpg-sign` would add to `ostree.gpgsigs`.
 *
 * @param secretKey an armoured or binary secret key file (the first key is
 *   used, or the one holding `opts.keyId`).
 * @throws ERR_INVALID_ARGUMENT when the file has no usable secret key or the
 *   passphrase is wrong or missing; ERR_KEY_REVOKED / ERR_KEY_EXPIRED when
 *   the key is revoked or expired at `opts.date`.
 */
export async function signOpenPgp(data: Uint8Array, secretKey: string | Uint8Array, opts: OpenPgpSignOptions = {}): Promise<Uint8Array> {
  const date = opts.date ?? new Date();
  const lib = await openpgpLibrary();
  let keys: openpgp.PrivateKey[];
  try {
    keys = typeof secretKey === 'string' || looksArmored(secretKey)
      ? await lib.readPrivateKeys({ armoredKeys: typeof secretKey === 'string' ? secretKey : Buffer.from(secretKey).toString('utf8') })
      : await lib.readPrivateKeys({ binaryKeys: secretKey });
  } catch (e) {
    throw new CanopyError('ERR_INVALID_ARGUMENT', `not an OpenPGP secret key: ${(e as Error).message}`, {}, { cause: e });
  }
  const wanted = opts.keyId ? keyIdOf(opts.keyId) : undefined;
  let key = wanted ? keys.find((k) => findKey(k, wanted) !== undefined) : keys[0];
  if (!key) throw new CanopyError('ERR_INVALID_ARGUMENT', `no secret key${opts.keyId ? ` with id ${opts.keyId}` : ''} in the key file`);
  if (await key.isRevoked(undefined, undefined, date)) throw new CanopyError('ERR_KEY_REVOKED', `secret key ${hexId(key.getKeyID())} has been revoked`, { keyId: hexId(key.getKeyID()) });
  const expiry = await key.getExpirationTime();
  if (expiry !== null && expiry !== Infinity && (expiry as Date) <= date) {
    throw new CanopyError('ERR_KEY_EXPIRED', `secret key ${hexId(key.getKeyID())} expired ${(expiry as Date).toISOString()}`, { keyId: hexId(key.getKeyID()) });
  }
  if (!key.isDecrypted()) {
    if (opts.passphrase === undefined) throw new CanopyError('ERR_INVALID_ARGUMENT', `secret key ${hexId(key.getKeyID())} is protected and no passphrase was given`);
    try {
      key = await lib.decryptKey({ privateKey: key, passphrase: opts.passphrase });
    } catch (e) {
      throw new CanopyError('ERR_INVALID_ARGUMENT', `cannot unlock secret key ${hexId(key.getKeyID())}: ${(e as Error).message}`, {}, { cause: e });
    }
  }
  try {
    const chosen = wanted ? findKey(key, wanted) : undefined;
    const signingKeyIDs = chosen ? [chosen.getKeyID()] : undefined;
    const message = await lib.createMessage({ binary: data });
    return await lib.sign({ message, signingKeys: key, signingKeyIDs, detached: true, format: 'binary', date });
  } catch (e) {
    throw new CanopyError('ERR_INVALID_ARGUMENT', `cannot sign with key ${hexId(key.getKeyID())}: ${(e as Error).message}`, {}, { cause: e });
  }
}

/** Upper-case hex key id for a key id or fingerprint given by a user. */
function keyIdOf(s: string): string {
  const hex = s.replace(/^0x/i, '').replace(/\s+/g, '').toUpperCase();
  if (!/^([0-9A-F]{16}|[0-9A-F]{40}|[0-9A-F]{64})$/.test(hex)) {
    throw new CanopyError('ERR_INVALID_ARGUMENT', `not an OpenPGP key id or fingerprint: ${JSON.stringify(s.slice(0, 80))}`);
  }
  // A v4 key id is the last 16 digits of the fingerprint; a v6 one the first 16.
  return hex.length === 64 ? hex.slice(0, 16) : hex.slice(-16);
}

/** The primary key or subkey of `key` whose id is `id` (upper-case hex). */
function findKey(key: openpgp.PrivateKey, id: string): openpgp.PrivateKey | openpgp.Subkey | undefined {
  return key.getKeys().find((k) => hexId(k.getKeyID()) === id);
}
