/**
 * The trust policy: may content with these detached signatures be used?
 * Pure (no I/O): keys come in already loaded, the clock can be injected.
 *
 * OSTree's rules, which this follows:
 * - `gpg-verify` (default on) demands a good OpenPGP signature;
 *   `sign-verify` demands a good signature from at least one of the listed
 *   signapi engines; when both are on, both must pass;
 * - within an engine, one good signature from a trusted, non-revoked,
 *   unexpired key passes; other signatures by unknown, revoked or expired
 *   keys do not spoil it;
 * - with both switched off nothing is checked (the caller did that on
 *   purpose); any other setting fails closed: no signature, no content.
 *
 * Where OSTree's outcome depends on the order of signatures, Canopy takes
 * the strict side whatever the order (see `verifyOpenPgp` and
 * `verifyEd25519`): a malformed signature element, or an OpenPGP signature
 * that names a trusted key but does not match the data, refuses the set
 * even next to a good one. OSTree refuses those when they come before the
 * good one and ignores them after it.
 */
import { CanopyError, isCanopyError } from '../core/errors';
import { ED25519_SIGNATURES_KEY, GPG_SIGNATURES_KEY, getSignatures, parseDetachedMetadata, type DetachedMetadata } from './detached-metadata';
import { Ed25519KeySet, verifyEd25519, type Ed25519Verified } from './ed25519';
import { OpenPgpKeyring, verifyOpenPgp, type OpenPgpVerified } from './openpgp';

/** The signapi engines Canopy implements (`sign-verify` values). */
export const SIGN_ENGINES = ['ed25519'] as const;
export type SignEngine = (typeof SIGN_ENGINES)[number];

/** A remote's verification settings, for the kind of file being checked. */
export interface TrustSettings {
  /** `gpg-verify` for commits, `gpg-verify-summary` for a summary. Default true, as in OSTree. */
  gpgVerify?: boolean;
  /**
   * `sign-verify` / `sign-verify-summary`: false, true (every engine Canopy
   * has), or engine names. Default false.
   */
  signVerify?: boolean | readonly string[];
  /** The remote's trusted OpenPGP keys. Absent: an empty keyring. */
  gpgKeyring?: OpenPgpKeyring;
  /** The remote's ed25519 keys (`verification-ed25519-key`/`-file`, trusted/revoked files). */
  ed25519?: { trusted: Ed25519KeySet; revoked?: Ed25519KeySet };
  /** The time expiry and revocation are judged at (default: now). */
  now?: Date;
}

/** What is being checked. */
export interface SignedContent {
  /** For messages, e.g. `commit 922dec41…` or `summary of remote "origin"`. */
  what: string;
  /** The exact bytes that were signed (the `.commit` or `summary` file). */
  data: Uint8Array;
  /** The `.commitmeta` / `summary.sig` bytes or parsed value; null when there is none. */
  detachedMetadata: Uint8Array | DetachedMetadata | null;
}

/** One engine's good signature. */
export type VerifiedSignature =
  | Omit<OpenPgpVerified, 'checks'>
  | Ed25519Verified;

/** The outcome when nothing was thrown. */
export interface TrustVerdict {
  /** False only when verification was switched off. */
  verified: boolean;
  /** One good signature per required engine family (OpenPGP, signapi). */
  signatures: VerifiedSignature[];
}

/**
 * Applies the remote's policy to signed content.
 *
 * @throws ERR_SIGNATURE_MISSING when a required engine finds no signature
 *   (including no detached metadata at all); ERR_SIGNATURE_INVALID when
 *   the detached metadata or a signature is malformed, or a signature is
 *   bad or expired; ERR_KEY_UNTRUSTED, ERR_KEY_REVOKED, ERR_KEY_EXPIRED when
 *   that is why no signature is good; ERR_CONFIG_INVALID for an unknown
 *   engine name in `signVerify`. Messages start with `content.what`.
 */
export async function verifyTrust(settings: TrustSettings, content: SignedContent): Promise<TrustVerdict> {
  const gpg = settings.gpgVerify ?? true;
  const engines = signEngines(settings.signVerify ?? false);
  if (!gpg && engines.length === 0) return { verified: false, signatures: [] };
  const what = content.what;
  const md = readMetadata(content, what);
  const signatures: VerifiedSignature[] = [];
  if (gpg) {
    const sigs = signaturesUnder(md, GPG_SIGNATURES_KEY, what);
    if (sigs.length === 0) {
      throw new CanopyError('ERR_SIGNATURE_MISSING', `${what}: OpenPGP verification is on (gpg-verify) but there is no ${GPG_SIGNATURES_KEY} signature`, { what, engine: 'openpgp' });
    }
    try {
      const { checks: _checks, ...good } = await verifyOpenPgp(sigs, content.data, settings.gpgKeyring ?? new OpenPgpKeyring(), { now: settings.now });
      signatures.push(good);
    } catch (e) {
      throw withContext(e, what);
    }
  }
  if (engines.length > 0) signatures.push(verifySignapi(engines, md, content.data, settings, what));
  return { verified: true, signatures };
}

/** OSTree's signapi rule: the first engine with a good signature wins. */
function verifySignapi(engines: SignEngine[], md: DetachedMetadata, data: Uint8Array, settings: TrustSettings, what: string): Ed25519Verified {
  const errors: CanopyError[] = [];
  for (const engine of engines) {
    // Only ed25519 exists today; a second engine adds a branch here.
    const sigs = signaturesUnder(md, ED25519_SIGNATURES_KEY, what);
    if (sigs.length === 0) continue;
    try {
      return verifyEd25519(sigs, data, settings.ed25519?.trusted ?? new Ed25519KeySet(), settings.ed25519?.revoked);
    } catch (e) {
      if (!isCanopyError(e)) throw e;
      errors.push(withContext(e, what, engine));
    }
  }
  if (errors.length === 0) {
    throw new CanopyError('ERR_SIGNATURE_MISSING', `${what}: signature verification is on (sign-verify: ${engines.join(', ')}) but there is no signature for it`, { what, engines: [...engines] });
  }
  throw errors[0];
}

function signEngines(v: boolean | readonly string[]): SignEngine[] {
  if (v === true) return [...SIGN_ENGINES];
  if (v === false) return [];
  for (const name of v) {
    if (!(SIGN_ENGINES as readonly string[]).includes(name)) {
      throw new CanopyError('ERR_CONFIG_INVALID', `sign-verify names engine ${JSON.stringify(name)}, which is not implemented (known: ${SIGN_ENGINES.join(', ')})`, { engine: name });
    }
  }
  return [...new Set(v)] as SignEngine[];
}

function readMetadata(content: SignedContent, what: string): DetachedMetadata {
  const m = content.detachedMetadata;
  if (m === null) return [];
  if (!(m instanceof Uint8Array)) return m;
  try {
    return parseDetachedMetadata(m);
  } catch (e) {
    throw new CanopyError('ERR_SIGNATURE_INVALID', `${what}: detached metadata is malformed: ${(e as Error).message}`, { what }, { cause: e });
  }
}

function signaturesUnder(md: DetachedMetadata, key: string, what: string): Uint8Array[] {
  try {
    return getSignatures(md, key);
  } catch (e) {
    throw new CanopyError('ERR_SIGNATURE_INVALID', `${what}: ${(e as Error).message}`, { what, key }, { cause: e });
  }
}

function withContext(e: unknown, what: string, engine?: string): CanopyError {
  if (!isCanopyError(e)) return new CanopyError('ERR_SIGNATURE_INVALID', `${what}: ${String((e as Error)?.message ?? e)}`, { what }, { cause: e });
  return new CanopyError(e.code, `${what}: ${e.message}`, { ...e.details, what, ...(engine ? { engine } : {}) }, { cause: e });
}
