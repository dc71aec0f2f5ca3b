/**
 * The operator keys a device trusts for signed messages (announcements and
 * commands), loaded from key files: ed25519 keys in OSTree's key-file
 * format (one base64 public key per line, as `trusted.ed25519`) with an
 * optional revocation list, and OpenPGP public keys (armoured or binary).
 */
import { readFileSync } from 'node:fs';
import { ioError } from '../core/errors';
import { Ed25519KeySet, readOpenPgpKeyring, type OpenPgpKeyring } from '../sign/index';

/** Keys that may sign messages for this device. */
export interface MessageTrust {
  ed25519?: { trusted: Ed25519KeySet; revoked?: Ed25519KeySet };
  openpgp?: OpenPgpKeyring;
}

/** Paths of key files. */
export interface MessageKeyFiles {
  /** ed25519 trusted key files (OSTree format). */
  ed25519?: readonly string[];
  /** ed25519 revoked key files (may be empty files). */
  ed25519Revoked?: readonly string[];
  /** OpenPGP public key files. */
  openpgp?: readonly string[];
}

/**
 * Reads the key files.
 *
 * @throws ERR_CONFIG_INVALID for a file that holds no valid key (an
 *   empty revocation list is fine) or is not a key file; ERR_IO /
 *   ERR_PERMISSION when a file cannot be read.
 */
export async function loadMessageTrust(
  files: MessageKeyFiles,
  readFile: (path: string) => Uint8Array = (p) => readFileSync(p),
): Promise<MessageTrust> {
  const read = (path: string): Uint8Array => {
    try {
      return readFile(path);
    } catch (e) {
      throw ioError(e, 'read key file', path);
    }
  };
  const trust: MessageTrust = {};
  if (files.ed25519?.length) {
    const trusted = Ed25519KeySet.fromFiles(files.ed25519.map((p) => ({ source: p, text: read(p) })));
    const revoked = Ed25519KeySet.fromFiles((files.ed25519Revoked ?? []).map((p) => ({ source: p, text: read(p) })), { allowNoKeys: true });
    trust.ed25519 = { trusted, revoked };
  }
  if (files.openpgp?.length) {
    trust.openpgp = await readOpenPgpKeyring(files.openpgp.map((p) => ({ source: p, data: read(p) })));
  }
  return trust;
}
