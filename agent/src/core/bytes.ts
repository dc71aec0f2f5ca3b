/** Byte helpers shared by the format code: hex, sha256, big-endian integers. */
import { createHash } from 'node:crypto';
import { CanopyError } from './errors';

const HEX_RE = /^[0-9a-f]{64}$/;

/** True for a 64-digit lowercase hex sha256 checksum. */
export function isChecksum(s: string): boolean {
  return HEX_RE.test(s);
}

/** Throws ERR_CHECKSUM_INVALID unless `s` is a lowercase hex sha256. */
export function assertChecksum(s: string, what = 'checksum'): string {
  if (!isChecksum(s)) throw new CanopyError('ERR_CHECKSUM_INVALID', `${what} is not a sha256 hex string: ${JSON.stringify(s.slice(0, 80))}`, { what });
  return s;
}

/** 32 raw bytes -> 64 hex digits. Throws ERR_OBJECT_INVALID for another length. */
export function checksumFromBytes(b: Uint8Array, what = 'checksum'): string {
  if (b.length !== 32) throw new CanopyError('ERR_OBJECT_INVALID', `${what} has ${b.length} bytes, expected 32`, { what, length: b.length });
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

/** 64 hex digits -> 32 raw bytes. */
export function checksumToBytes(hex: string): Buffer {
  return Buffer.from(assertChecksum(hex), 'hex');
}

/** sha256 of one or more buffers as hex. */
export function sha256Hex(...parts: Uint8Array[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest('hex');
}

/**
 * OSTree's "modified base64" of a checksum, used in static-delta paths:
 * standard base64 without the trailing '=', with '/' replaced by '_'.
 */
export function checksumToMbase64(hex: string): string {
  return checksumToBytes(hex).toString('base64').replace(/=+$/, '').replace(/\//g, '_');
}

/** The inverse of checksumToMbase64. */
export function checksumFromMbase64(s: string): string {
  if (!/^[A-Za-z0-9+_]{43}$/.test(s)) throw new CanopyError('ERR_CHECKSUM_INVALID', `not a modified-base64 checksum: ${JSON.stringify(s)}`);
  return checksumFromBytes(Buffer.from(s.replace(/_/g, '/') + '=', 'base64'));
}

/** Compares two byte arrays as C's memcmp/strcmp would. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b);
}

/** Sorts names by the bytes of their UTF-8 encoding (strcmp order). */
export function compareUtf8(a: string, b: string): number {
  if (a === b) return 0;
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}
