/**
 * The trust layer: OSTree detached metadata (`.commitmeta`, `summary.sig`),
 * OpenPGP signatures (`ostree.gpgsigs`, via openpgp.js), ed25519 signatures
 * (`ostree.sign.ed25519`, via node:crypto) and the trust policy that decides
 * whether signed content may be used.
 *
 * Error codes: ERR_SIGNATURE_MISSING, ERR_SIGNATURE_INVALID,
 * ERR_KEY_UNTRUSTED, ERR_KEY_REVOKED, ERR_KEY_EXPIRED (verification);
 * ERR_CONFIG_INVALID (key files, engine names); ERR_INVALID_ARGUMENT
 * (secret keys, signing); ERR_OBJECT_INVALID and ERR_GVARIANT_* (detached
 * metadata structure).
 */
export {
  GPG_SIGNATURES_KEY,
  ED25519_SIGNATURES_KEY,
  SIGNATURE_LIST_TYPE,
  MAX_SIGNATURES_PER_KEY,
  MAX_SIGNATURE_SIZE,
  MAX_DETACHED_METADATA_SIZE,
  parseDetachedMetadata,
  serializeDetachedMetadata,
  getSignatures,
  addSignature,
  removeSignatures,
  type DetachedMetadata,
} from './detached-metadata';
export {
  ED25519_PUBLIC_KEY_SIZE,
  ED25519_SECRET_KEY_SIZE,
  ED25519_SEED_SIZE,
  ED25519_SIGNATURE_SIZE,
  generateEd25519KeyPair,
  ed25519KeyPairFromSeed,
  encodeEd25519Key,
  decodeEd25519PublicKey,
  decodeEd25519SecretKey,
  parseEd25519KeyFile,
  signEd25519,
  checkEd25519,
  verifyEd25519,
  Ed25519KeySet,
  type Ed25519KeyPair,
  type Ed25519Verified,
  type SkippedKeyLine,
} from './ed25519';
export {
  readOpenPgpKeyring,
  checkOpenPgpSignatures,
  verifyOpenPgp,
  signOpenPgp,
  OpenPgpKeyring,
  type KeyFile,
  type OpenPgpKeyInfo,
  type OpenPgpSignatureStatus,
  type OpenPgpSignatureCheck,
  type OpenPgpVerified,
  type OpenPgpCheckOptions,
  type OpenPgpSignOptions,
} from './openpgp';
export {
  verifyTrust,
  SIGN_ENGINES,
  type SignEngine,
  type TrustSettings,
  type SignedContent,
  type TrustVerdict,
  type VerifiedSignature,
} from './policy';
