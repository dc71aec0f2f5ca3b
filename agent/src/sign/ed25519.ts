/**
 * OSTree's `ed25519` signing engine, on node:crypto (pure EdDSA, RFC 8032).
 *
 * Formats (as libostree reads and writes them):
 * - public key: 32 raw bytes, written as standard base64;
 * - secret key: 64 bytes, the 32-byte seed followed by the 32-byte public
 *   key (libsodium's layout), written as standard base64;
 * - signature: 64 raw bytes, one element of `ostree.sign.ed25519` (`aay`);
 * - key file (`trusted.ed25519`, `trusted.ed25519.d/*`, `revoked.ed25519…`,
 *   a remote's `verification-ed25519-file`): one base64 public key per line.
 *
 * Key-file rules follow libostree 2026.4 (the 2022.7 reader has the same
 * outcome, minus an error it leaks): lines are split at `\n`; a final `\n`
 * does not make an extra line; an empty line rejects the whole file; a line
 * that is not a 32-byte key is skipped; a file without any valid key is an
 * error. OSTree has no comment syntax (a `#` line is skipped only because it
 * does not decode to 32 bytes); we skip `#` lines on purpose and report
 * every skipped line so a caller can warn about it.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { CanopyError } from '../core/errors';

export const ED25519_PUBLIC_KEY_SIZE = 32;
export const ED25519_SECRET_KEY_SIZE = 64;
export const ED25519_SEED_SIZE = 32;
export const ED25519_SIGNATURE_SIZE = 64;

/** DER prefixes that wrap a raw key into PKCS#8 / SPKI for node:crypto. */
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const BASE64_KEY_RE = /^[A-Za-z0-9+/]{43}=$/;

/** A key pair in OSTree's raw layout. */
export interface Ed25519KeyPair {
  /** 32 bytes. */
  publicKey: Buffer;
  /** 64 bytes: seed ‖ public key. */
  secretKey: Buffer;
}

/** Generates a fresh key pair. */
export function generateEd25519KeyPair(): Ed25519KeyPair {
  const { privateKey } = generateKeyPairSync('ed25519');
  const der = privateKey.export({ format: 'der', type: 'pkcs8' });
  return ed25519KeyPairFromSeed(der.subarray(der.length - ED25519_SEED_SIZE));
}

/**
 * The key pair for a 32-byte seed (RFC 8032 "secret key").
 *
 * @throws ERR_INVALID_ARGUMENT when the seed is not 32 bytes.
 */
export function ed25519KeyPairFromSeed(seed: Uint8Array): Ed25519KeyPair {
  if (seed.length !== ED25519_SEED_SIZE) {
    throw new CanopyError('ERR_INVALID_ARGUMENT', `an ed25519 seed is ${ED25519_SEED_SIZE} bytes, got ${seed.length}`, { size: seed.length });
  }
  const priv = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
  const spki = createPublicKey(priv).export({ format: 'der', type: 'spki' });
  const publicKey = Buffer.from(spki.subarray(spki.length - ED25519_PUBLIC_KEY_SIZE));
  return { publicKey, secretKey: Buffer.concat([seed, publicKey]) };
}

/** Standard base64 of a raw key or signature, as OSTree writes it. */
export function encodeEd25519Key(raw: Uint8Array): string {
  return Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('base64');
}

/**
 * Decodes a base64 public key (surrounding whitespace allowed).
 *
 * @throws ERR_INVALID_ARGUMENT when it is not base64 of exactly 32 bytes.
 */
export function decodeEd25519PublicKey(text: string): Buffer {
  const s = text.trim();
  if (!BASE64_KEY_RE.test(s)) {
    throw new CanopyError('ERR_INVALID_ARGUMENT', `not a base64 ed25519 public key (${ED25519_PUBLIC_KEY_SIZE} bytes): ${JSON.stringify(s.slice(0, 60))}`);
  }
  return Buffer.from(s, 'base64');
}

/**
 * Decodes a secret key: base64 or raw, 64 bytes (seed ‖ public). The public
 * half must be the one the seed derives (libsodium would otherwise make
 * signatures that never verify).
 *
 * @throws ERR_INVALID_ARGUMENT for a wrong length, bad base64 or a
 *   mismatched public half.
 */
export function decodeEd25519SecretKey(key: string | Uint8Array): Ed25519KeyPair {
  let raw: Buffer;
  if (typeof key === 'string') {
    const s = key.trim();
    if (!/^[A-Za-z0-9+/]{86}==$/.test(s)) {
      throw new CanopyError('ERR_INVALID_ARGUMENT', `not a base64 ed25519 secret key (${ED25519_SECRET_KEY_SIZE} bytes)`);
    }
    raw = Buffer.from(s, 'base64');
  } else {
    raw = Buffer.from(key);
  }
  if (raw.length !== ED25519_SECRET_KEY_SIZE) {
    throw new CanopyError('ERR_INVALID_ARGUMENT', `an ed25519 secret key is ${ED25519_SECRET_KEY_SIZE} bytes (seed and public key), got ${raw.length}`, { size: raw.length });
  }
  const pair = ed25519KeyPairFromSeed(raw.subarray(0, ED25519_SEED_SIZE));
  if (!pair.publicKey.equals(raw.subarray(ED25519_SEED_SIZE))) {
    throw new CanopyError('ERR_INVALID_ARGUMENT', 'the ed25519 secret key\'s public half does not match its seed');
  }
  return pair;
}

/** A set of raw 32-byte public keys, compared by value. */
export class Ed25519KeySet {
  readonly #keys = new Map<string, Buffer>();

  constructor(keys: Iterable<Uint8Array> = []) {
    for (const k of keys) this.add(k);
  }

  /**
   * Builds a set from key files. Each file must hold at least one key unless
   * `allowNoKeys` (use it for revocation lists, which may be empty).
   *
   * @throws ERR_CONFIG_INVALID as {@link parseEd25519KeyFile} does.
   */
  static fromFiles(files: Iterable<{ source: string; text: string | Uint8Array }>, opts: { allowNoKeys?: boolean } = {}): Ed25519KeySet {
    const set = new Ed25519KeySet();
    for (const f of files) for (const k of parseEd25519KeyFile(f.text, f.source, opts).keys) set.add(k);
    return set;
  }

  /** @throws ERR_INVALID_ARGUMENT unless `key` is 32 bytes. */
  add(key: Uint8Array): this {
    if (key.length !== ED25519_PUBLIC_KEY_SIZE) {
      throw new CanopyError('ERR_INVALID_ARGUMENT', `an ed25519 public key is ${ED25519_PUBLIC_KEY_SIZE} bytes, got ${key.length}`, { size: key.length });
    }
    const b = Buffer.from(key);
    this.#keys.set(b.toString('hex'), b);
    return this;
  }

  has(key: Uint8Array): boolean {
    return this.#keys.has(Buffer.from(key).toString('hex'));
  }

  get size(): number {
    return this.#keys.size;
  }

  /** The keys in insertion order (copies). */
  keys(): Buffer[] {
    return [...this.#keys.values()].map((k) => Buffer.from(k));
  }
}

/** One line of a key file that was not taken as a key. */
export interface SkippedKeyLine {
  line: number;
  reason: string;
}

/**
 * Parses a key file (see the module notes for the rules).
 *
 * @param source a name for messages (the file's path).
 * @throws ERR_CONFIG_INVALID on an empty line, or when no line is a key
 *   (unless `allowNoKeys`, e.g. for an empty revocation list).
 */
export function parseEd25519KeyFile(
  text: string | Uint8Array,
  source: string,
  opts: { allowNoKeys?: boolean } = {},
): { keys: Buffer[]; skipped: SkippedKeyLine[] } {
  const s = typeof text === 'string' ? text : Buffer.from(text.buffer, text.byteOffset, text.byteLength).toString('latin1');
  const lines = s.split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  const keys: Buffer[] = [];
  const skipped: SkippedKeyLine[] = [];
  lines.forEach((raw, i) => {
    const line = i + 1;
    if (raw.length === 0) {
      throw new CanopyError('ERR_CONFIG_INVALID', `${source}: line ${line} is empty (OSTree rejects key files with empty lines)`, { source, line });
    }
    const t = raw.trim();
    if (t.startsWith('#')) skipped.push({ line, reason: 'comment' });
    else if (!BASE64_KEY_RE.test(t)) skipped.push({ line, reason: `not a base64 ${ED25519_PUBLIC_KEY_SIZE}-byte key` });
    else keys.push(Buffer.from(t, 'base64'));
  });
  if (keys.length === 0 && !opts.allowNoKeys) {
    throw new CanopyError('ERR_CONFIG_INVALID', `${source}: no valid ed25519 public key`, { source, skipped: skipped.length });
  }
  return { keys, skipped };
}

/**
 * Signs `data` with a secret key (64 bytes raw, or its base64 text).
 *
 * @throws ERR_INVALID_ARGUMENT for a malformed secret key.
 */
export function signEd25519(secret: string | Uint8Array, data: Uint8Array): Buffer {
  const pair = decodeEd25519SecretKey(secret);
  const key = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, pair.secretKey.subarray(0, ED25519_SEED_SIZE)]), format: 'der', type: 'pkcs8' });
  return sign(null, data, key);
}

/** True when `signature` is a valid signature of `data` by `publicKey`. */
export function checkEd25519(publicKey: Uint8Array, data: Uint8Array, signature: Uint8Array): boolean {
  if (publicKey.length !== ED25519_PUBLIC_KEY_SIZE || signature.length !== ED25519_SIGNATURE_SIZE) return false;
  return verify(null, data, publicKeyObject(publicKey), signature);
}

/** What {@link verifyEd25519} found. */
export interface Ed25519Verified {
  engine: 'ed25519';
  /** The verifying key, base64 as in key files. */
  publicKey: string;
  /** Index of the signature that verified. */
  index: number;
}

/**
 * OSTree's rule: the content is good when any one signature verifies with a
 * trusted key that is not revoked. Signatures that verify with no trusted
 * key are passed over. A signature that is not 64 bytes rejects the whole
 * set (OSTree stops at the first such element, so it rejects it when it
 * comes before a good one; we reject it wherever it is).
 *
 * @throws ERR_SIGNATURE_MISSING when `signatures` is empty;
 *   ERR_SIGNATURE_INVALID for a malformed element, or when no signature
 *   verifies with any known key; ERR_KEY_REVOKED when the only signatures
 *   that verify are by revoked keys; ERR_KEY_UNTRUSTED when there is no
 *   trusted, non-revoked key to check against.
 */
export function verifyEd25519(
  signatures: readonly Uint8Array[],
  data: Uint8Array,
  trusted: Ed25519KeySet,
  revoked: Ed25519KeySet = new Ed25519KeySet(),
): Ed25519Verified {
  if (signatures.length === 0) throw new CanopyError('ERR_SIGNATURE_MISSING', 'no ed25519 signatures');
  signatures.forEach((sig, index) => {
    if (sig.length !== ED25519_SIGNATURE_SIZE) {
      throw new CanopyError('ERR_SIGNATURE_INVALID', `ed25519 signature ${index} is ${sig.length} bytes, expected ${ED25519_SIGNATURE_SIZE}`, { engine: 'ed25519', index, size: sig.length });
    }
  });
  const usable = trusted.keys().filter((k) => !revoked.has(k)).map((k) => ({ raw: k, obj: publicKeyObject(k) }));
  for (let index = 0; index < signatures.length; index++) {
    for (const k of usable) {
      if (verify(null, data, k.obj, signatures[index])) return { engine: 'ed25519', publicKey: encodeEd25519Key(k.raw), index };
    }
  }
  for (let index = 0; index < signatures.length; index++) {
    for (const k of revoked.keys()) {
      if (checkEd25519(k, data, signatures[index])) {
        throw new CanopyError('ERR_KEY_REVOKED', `ed25519 signature ${index} was made by revoked key ${encodeEd25519Key(k)}`, { engine: 'ed25519', index, key: encodeEd25519Key(k) });
      }
    }
  }
  if (usable.length === 0) {
    throw new CanopyError('ERR_KEY_UNTRUSTED', 'no trusted ed25519 key to verify against (none configured, or all revoked)', { engine: 'ed25519', trusted: trusted.size, revoked: revoked.size });
  }
  throw new CanopyError('ERR_SIGNATURE_INVALID', `none of ${signatures.length} ed25519 signature(s) verifies with any of ${usable.length} trusted key(s): the data was changed, or the signer is not trusted`, { engine: 'ed25519', signatures: signatures.length, keys: usable.length });
}

function publicKeyObject(raw: Uint8Array): KeyObject {
  return createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
}
