/**
 * TLS settings of a remote as Node `tls.connect` options: a private CA,
 * a client certificate for mutual TLS, `tls-permissive`, and public-key
 * pinning. A pin is the base64 sha256 of the certificate's DER
 * SubjectPublicKeyInfo (what `openssl x509 -pubkey | openssl pkey -pubin
 * -outform der | openssl dgst -sha256 -binary | base64` prints); the peer's
 * leaf certificate must match one pin. Pinned connections never resume TLS
 * sessions, because Node skips the identity check on a resumed session, and
 * with `tls-permissive` (where Node does not enforce the check) the adapter
 * checks the pin itself once the handshake is done.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { checkServerIdentity, type ConnectionOptions, type PeerCertificate } from 'node:tls';
import { CanopyError, ioError } from '../core/errors';
import type { TransportOptions } from './http-client';

/** base64 sha256 of a DER certificate's SubjectPublicKeyInfo. */
export function spkiSha256(certDer: Uint8Array): string {
  const spki = new X509Certificate(Buffer.from(certDer)).publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(spki).digest('base64');
}

/** The error a failed pin check raises inside the TLS handshake. */
export class PinMismatchError extends Error {
  readonly code = 'ERR_CANOPY_PIN_MISMATCH';
  constructor(readonly host: string, readonly actual: string) {
    super(`the server ${host} presented a public key (sha256 ${actual}) that matches no tls-pinned-spki pin`);
  }
}

function readPem(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    const err = ioError(e, `read ${what}`, path);
    throw new CanopyError('ERR_CONFIG_INVALID', err.message, { path, what }, { cause: e });
  }
}

/**
 * Builds `tls.connect` options. Throws ERR_CONFIG_INVALID when a CA,
 * certificate or key file cannot be read, or only one of certificate and
 * key is given.
 */
export function tlsConnectOptions(opts: TransportOptions): ConnectionOptions & { maxCachedSessions?: number } {
  const out: ConnectionOptions & { maxCachedSessions?: number } = {};
  if (opts.caPath) out.ca = readPem(opts.caPath, 'tls-ca-path');
  if (Boolean(opts.clientCertPath) !== Boolean(opts.clientKeyPath)) {
    throw new CanopyError('ERR_CONFIG_INVALID', 'tls-client-cert-path and tls-client-key-path must be given together');
  }
  if (opts.clientCertPath && opts.clientKeyPath) {
    out.cert = readPem(opts.clientCertPath, 'tls-client-cert-path');
    out.key = readPem(opts.clientKeyPath, 'tls-client-key-path');
  }
  if (opts.tlsPermissive) out.rejectUnauthorized = false;
  const pins = new Set(opts.pinnedSpki ?? []);
  if (pins.size > 0) {
    out.maxCachedSessions = 0;
    const permissive = Boolean(opts.tlsPermissive);
    out.checkServerIdentity = (host: string, cert: PeerCertificate): Error | undefined => {
      if (!permissive) {
        const e = checkServerIdentity(host, cert);
        if (e) return e;
      }
      if (!cert?.raw) return new PinMismatchError(host, 'none');
      const actual = spkiSha256(cert.raw);
      return pins.has(actual) ? undefined : new PinMismatchError(host, actual);
    };
  }
  return out;
}

/**
 * Checks a connected socket's peer against the pins: with `tls-permissive`
 * Node does not enforce `checkServerIdentity`, so the adapter checks again
 * after the handshake. Returns the error to fail the connection with.
 */
export function checkPinnedPeer(socket: { getPeerCertificate?: (detailed: true) => PeerCertificate }, host: string, pins: readonly string[]): Error | undefined {
  const cert = socket.getPeerCertificate?.(true);
  if (!cert?.raw) return new PinMismatchError(host, 'none');
  const actual = spkiSha256(cert.raw);
  return pins.includes(actual) ? undefined : new PinMismatchError(host, actual);
}

const TLS_ERROR_CODES = new Set([
  'ERR_CANOPY_PIN_MISMATCH', 'ERR_TLS_CERT_ALTNAME_INVALID', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID', 'CERT_REVOKED', 'CERT_UNTRUSTED', 'CERT_REJECTED', 'CERT_SIGNATURE_FAILURE', 'INVALID_CA',
  'HOSTNAME_MISMATCH', 'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE', 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED',
  'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE', 'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA', 'ERR_SSL_WRONG_VERSION_NUMBER',
]);

/** True for an error raised by TLS verification or the handshake. */
export function isTlsError(e: unknown): boolean {
  for (let cur = e as { code?: unknown; cause?: unknown } | undefined, i = 0; cur && i < 5; cur = cur.cause as typeof cur, i++) {
    if (cur instanceof PinMismatchError) return true;
    const code = typeof cur.code === 'string' ? cur.code : '';
    if (TLS_ERROR_CODES.has(code) || code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_')) return true;
  }
  return false;
}
