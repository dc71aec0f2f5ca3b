/**
 * The decision over checked OpenPGP signature packets, kept apart from the
 * openpgp.js adapter because it is pure: given every packet's status, which
 * one wins, or which failure is reported. See `verifyOpenPgp` for the rules
 * and why they are what they are.
 */
import { CanopyError, type ErrorCode } from '../core/errors';

/** How one signature packet fared. */
export type OpenPgpSignatureStatus =
  | 'good'
  /** made by a key in the keyring, but does not match the data */
  | 'bad'
  /** made by a key that is not in the keyring */
  | 'untrusted'
  | 'revoked'
  | 'key-expired'
  | 'signature-expired'
  /** well-formed but unusable: wrong class, weak digest, key not valid for signing then */
  | 'invalid';

/** The check of one signature packet. */
export interface OpenPgpSignatureCheck {
  /** Position among all packets, in order. */
  index: number;
  /** Which `aay` element the packet came from. */
  element: number;
  status: OpenPgpSignatureStatus;
  /** Issuer key id from the packet, upper-case hex. */
  keyId: string;
  /** Fingerprint of the (sub)key that made it, when it is in the keyring. */
  fingerprint?: string;
  /** Fingerprint of its primary key, when it is in the keyring. */
  primaryFingerprint?: string;
  userId?: string;
  created?: Date;
  message: string;
}

/** The signature that made {@link verifyOpenPgp} succeed. */
export interface OpenPgpVerified {
  engine: 'openpgp';
  keyId: string;
  fingerprint: string;
  primaryFingerprint: string;
  userId?: string;
  created?: Date;
  /** Every packet's check, good or not. */
  checks: OpenPgpSignatureCheck[];
}

/** The order in which failures are reported when nothing is good: the most telling first. */
const FAILURE_ORDER: ReadonlyArray<[OpenPgpSignatureStatus, ErrorCode]> = [
  ['revoked', 'ERR_KEY_REVOKED'],
  ['key-expired', 'ERR_KEY_EXPIRED'],
  ['signature-expired', 'ERR_SIGNATURE_INVALID'],
  ['invalid', 'ERR_SIGNATURE_INVALID'],
  ['untrusted', 'ERR_KEY_UNTRUSTED'],
];

/**
 * A bad signature refuses the set; otherwise the first good one wins;
 * otherwise the most telling failure is thrown.
 *
 * @throws ERR_SIGNATURE_INVALID, ERR_KEY_REVOKED, ERR_KEY_EXPIRED,
 *   ERR_KEY_UNTRUSTED with `details.failures` listing every packet.
 */
export function decideOpenPgp(checks: readonly OpenPgpSignatureCheck[]): OpenPgpVerified {
  const failures = checks.filter((c) => c.status !== 'good').map((c) => `#${c.index} ${c.keyId}: ${c.status}: ${c.message}`);
  const bad = checks.find((c) => c.status === 'bad');
  if (bad) {
    throw new CanopyError('ERR_SIGNATURE_INVALID', `BAD OpenPGP signature: ${bad.message}`, { engine: 'openpgp', keyId: bad.keyId, status: 'bad', failures });
  }
  const good = checks.find((c) => c.status === 'good');
  if (good) {
    return {
      engine: 'openpgp',
      keyId: good.keyId,
      fingerprint: good.fingerprint!,
      primaryFingerprint: good.primaryFingerprint!,
      userId: good.userId,
      created: good.created,
      checks: [...checks],
    };
  }
  for (const [status, code] of FAILURE_ORDER) {
    const c = checks.find((x) => x.status === status);
    if (c) {
      throw new CanopyError(code, `no good OpenPGP signature: ${c.message}`, { engine: 'openpgp', keyId: c.keyId, status, failures });
    }
  }
  throw new CanopyError('ERR_SIGNATURE_INVALID', 'no good OpenPGP signature', { engine: 'openpgp', failures });
}

