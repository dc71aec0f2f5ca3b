/**
 * Directory metadata: `(uuua(ayay))` with uid, gid and mode big-endian.
 * Its checksum is the sha256 of these bytes.
 */
import { sha256Hex } from '../core/bytes';
import { CanopyError } from '../core/errors';
import { parse, serialize } from '../gvariant/index';
import { isDirMode, S_IFMT } from './object-type';
import { xattrsFromGValue, xattrsToGValue, type Xattr } from './xattrs';

export interface DirMeta {
  readonly uid: number;
  readonly gid: number;
  /** Full st_mode including S_IFDIR. */
  readonly mode: number;
  readonly xattrs: readonly Xattr[];
}

const TYPE = '(uuua(ayay))';

/** Serializes to the exact bytes OSTree hashes and stores. */
export function serializeDirMeta(m: DirMeta): Buffer {
  if (!isDirMode(m.mode)) throw new CanopyError('ERR_OBJECT_INVALID', `dirmeta mode ${m.mode.toString(8)} is not a directory`, { mode: m.mode });
  return serialize(TYPE, [bswap32(m.uid), bswap32(m.gid), bswap32(m.mode), xattrsToGValue(m.xattrs)]);
}

/** Parses and validates a dirmeta object. Throws ERR_GVARIANT_* or ERR_OBJECT_INVALID. */
export function parseDirMeta(data: Uint8Array): DirMeta {
  const [uid, gid, mode, xattrs] = parse(TYPE, data) as [number, number, number, unknown];
  const m = bswap32(mode);
  if (!isDirMode(m) || (m & ~(S_IFMT | 0o7777)) !== 0) {
    throw new CanopyError('ERR_OBJECT_INVALID', `dirmeta has invalid mode 0${m.toString(8)}`, { mode: m });
  }
  return { uid: bswap32(uid), gid: bswap32(gid), mode: m, xattrs: xattrsFromGValue(xattrs as never, 'dirmeta') };
}

export function dirMetaChecksum(m: DirMeta): string {
  return sha256Hex(serializeDirMeta(m));
}

/** Byte-swaps a uint32: OSTree stores its integers big-endian inside LE GVariant. */
export function bswap32(v: number): number {
  return (((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24)) >>> 0;
}

/** Byte-swaps a uint64. */
export function bswap64(v: bigint): bigint {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(v);
  return b.readBigUInt64BE();
}
