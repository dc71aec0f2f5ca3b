/**
 * Adding signatures to OSTree detached metadata (a commit's `.commitmeta`,
 * a `summary.sig`) with the operator's keys: ed25519 signatures under
 * `ostree.sign.ed25519`, OpenPGP ones under `ostree.gpgsigs`, both over the
 * exact bytes of the signed file, as `ostree sign` and `ostree gpg-sign`
 * write them.
 *
 * Signing is idempotent: an ed25519 signature is deterministic, so the same
 * key adds the same bytes once; an OpenPGP signature differs every time, so
 * a key that already has a good signature in the list is not asked again.
 */
import { CanopyError } from '../core/errors';
import {
  ED25519_SIGNATURES_KEY, GPG_SIGNATURES_KEY, addSignature, checkOpenPgpSignatures, decodeEd25519SecretKey, encodeEd25519Key,
  getSignatures, readOpenPgpKeyring, signEd25519, signOpenPgp, type DetachedMetadata,
} from '../sign/index';
import type { SigningKeys } from '../channel/index';

/** What signing did, per key. */
export interface SignatureOutcome {
  engine: 'ed25519' | 'openpgp';
  /** ed25519: base64 public key; openpgp: primary key fingerprint. */
  key: string;
  /** False when the metadata already held a good signature by this key. */
  added: boolean;
}

/** True when `keys` holds at least one key. */
export function hasSigningKeys(keys: SigningKeys): boolean {
  return (keys.ed25519?.length ?? 0) + (keys.openpgp?.length ?? 0) > 0;
}

/**
 * Returns `md` with a signature over `data` by every key in `keys`.
 *
 * @throws ERR_INVALID_ARGUMENT when no key is given, a key is malformed or
 *   an OpenPGP key is locked without its passphrase; ERR_KEY_REVOKED /
 *   ERR_KEY_EXPIRED for an unusable OpenPGP key; ERR_OBJECT_INVALID when the
 *   existing metadata holds a malformed signature list.
 */
export async function addDetachedSignatures(
  md: DetachedMetadata,
  data: Uint8Array,
  keys: SigningKeys,
  opts: { now?: Date } = {},
): Promise<{ metadata: DetachedMetadata; outcomes: SignatureOutcome[] }> {
  if (!hasSigningKeys(keys)) throw new CanopyError('ERR_INVALID_ARGUMENT', 'no signing key given');
  let out = md;
  const outcomes: SignatureOutcome[] = [];
  for (const k of keys.ed25519 ?? []) {
    const pair = decodeEd25519SecretKey(k);
    const before = getSignatures(out, ED25519_SIGNATURES_KEY).length;
    out = addSignature(out, ED25519_SIGNATURES_KEY, signEd25519(pair.secretKey, data));
    outcomes.push({ engine: 'ed25519', key: encodeEd25519Key(pair.publicKey), added: getSignatures(out, ED25519_SIGNATURES_KEY).length > before });
  }
  for (const k of keys.openpgp ?? []) {
    const ring = await readOpenPgpKeyring([{ source: 'signing key', data: k.key }]);
    const fingerprint = ring.list()[0]?.fingerprint ?? '';
    const existing = getSignatures(out, GPG_SIGNATURES_KEY);
    let good = false;
    if (existing.length > 0) {
      try {
        const checks = await checkOpenPgpSignatures(existing, data, ring, { now: opts.now });
        good = checks.some((c) => c.status === 'good');
      } catch {
        good = false; // a malformed list is replaced below by appending a good signature; verification reports the rest
      }
    }
    if (!good) out = addSignature(out, GPG_SIGNATURES_KEY, await signOpenPgp(data, k.key, { passphrase: k.passphrase, date: opts.now }));
    outcomes.push({ engine: 'openpgp', key: fingerprint, added: !good });
  }
  return { metadata: out, outcomes };
}
