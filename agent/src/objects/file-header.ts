/**
 * File (content) objects. A file's checksum covers a checksummed stream:
 *
 *   BE u32 header length ‖ 4 zero bytes ‖ header `(uuuusa(ayay))` ‖ content
 *
 * where the header holds uid, gid, mode (all big-endian), rdev (0), the
 * symlink target ("" for regular files) and the sorted xattrs; content is
 * present for regular files only. Archive repos store `.filez` objects: the
 * same framing around a `(tuuuusa(ayay))` header that starts with the
 * uncompressed size, followed by raw DEFLATE data.
 */
import { createHash } from 'node:crypto';
import { CanopyError } from '../core/errors';
import { Limits } from '../core/limits';
import { chooseOffsetWidth, offsetWidthForSize, parse, readOffset, serialize, writeOffsets } from '../gvariant/index';
import { bswap32, bswap64 } from './dirmeta';
import { isLinkMode, isRegMode, S_IFMT } from './object-type';
import { xattrsFromGValue, xattrsToGValue, type Xattr } from './xattrs';

export interface FileHeader {
  readonly uid: number;
  readonly gid: number;
  /** Full st_mode: S_IFREG or S_IFLNK plus permission bits. */
  readonly mode: number;
  /** Symlink target; "" for regular files. */
  readonly symlinkTarget: string;
  readonly xattrs: readonly Xattr[];
}

export interface ArchiveFileHeader extends FileHeader {
  /** Uncompressed content size. */
  readonly size: number;
}

const HEADER_TYPE = '(uuuusa(ayay))';
const ARCHIVE_TYPE = '(tuuuusa(ayay))';

function checkHeader(h: FileHeader): void {
  if (isRegMode(h.mode)) {
    if (h.symlinkTarget !== '') throw new CanopyError('ERR_OBJECT_INVALID', 'regular file with a symlink target');
  } else if (isLinkMode(h.mode)) {
    if (h.symlinkTarget.length === 0) throw new CanopyError('ERR_OBJECT_INVALID', 'symlink with an empty target');
    if (Buffer.byteLength(h.symlinkTarget) > Limits.maxSymlinkTarget) throw new CanopyError('ERR_OBJECT_INVALID', 'symlink target too long');
  } else {
    throw new CanopyError('ERR_FILE_TYPE', `file mode 0${h.mode.toString(8)} is neither a regular file nor a symlink`, { mode: h.mode });
  }
  if ((h.mode & ~(S_IFMT | 0o7777)) !== 0) throw new CanopyError('ERR_OBJECT_INVALID', `invalid file mode 0${h.mode.toString(8)}`);
}

function frame(variant: Buffer): Buffer {
  const out = Buffer.alloc(8 + variant.length);
  out.writeUInt32BE(variant.length, 0);
  variant.copy(out, 8);
  return out;
}

/** The framed header that starts the checksummed stream. */
export function fileHeaderBytes(h: FileHeader): Buffer {
  checkHeader(h);
  return frame(serialize(HEADER_TYPE, [bswap32(h.uid), bswap32(h.gid), bswap32(h.mode), 0, h.symlinkTarget, xattrsToGValue(h.xattrs)]));
}

/** The framed header at the start of a `.filez` object. */
export function archiveHeaderBytes(h: FileHeader, size: number): Buffer {
  checkHeader(h);
  return frame(serialize(ARCHIVE_TYPE, [bswap64(BigInt(size)), bswap32(h.uid), bswap32(h.gid), bswap32(h.mode), 0, h.symlinkTarget, xattrsToGValue(h.xattrs)]));
}

/** The checksum of a file object whose content is fully in memory. */
export function fileChecksum(h: FileHeader, content?: Uint8Array): string {
  const hash = createHash('sha256').update(fileHeaderBytes(h));
  if (isRegMode(h.mode) && content) hash.update(content);
  return hash.digest('hex');
}

/**
 * The framed checksummed header of a `.filez` whose archive header
 * {@link parseArchiveHeader} accepted (so it is in normal form), made from
 * its bytes rather than by serialising the parsed header again: the two
 * tuples differ only in the leading size (8 bytes) and in their one framing
 * offset, the end of the symlink target. The uid, gid, mode, rdev, target
 * and xattrs bytes are the same, and need no realignment (the xattr array
 * aligns to 1). Gives the same bytes as `fileHeaderBytes` of that header.
 */
export function fileHeaderBytesOfArchive(filez: Uint8Array, dataOffset: number): Buffer {
  const v = filez.subarray(8, dataOffset);
  const k = offsetWidthForSize(v.length);
  const targetEnd = readOffset(v, v.length - k, k);
  const body = v.subarray(8, v.length - k);
  const k2 = chooseOffsetWidth(body.length, 1);
  const out = Buffer.allocUnsafe(8 + body.length + k2);
  out.writeUInt32BE(body.length + k2, 0);
  out.writeUInt32BE(0, 4);
  out.set(body, 8);
  writeOffsets(out, 8 + body.length, [targetEnd - 8], k2);
  return out;
}

/** Checks the framing of a header (BE u32 length, 4 zero bytes) and returns where the header ends. */
function frameEnd(data: Uint8Array, what: string): number {
  if (data.length < 8) throw new CanopyError('ERR_OBJECT_INVALID', `${what} is truncated (${data.length} bytes)`);
  const len = be32(data, 0);
  if (len > Limits.maxFileHeaderSize) throw new CanopyError('ERR_OBJECT_INVALID', `${what} declares a header of ${len} bytes`, { length: len });
  if ((data[4] | data[5] | data[6] | data[7]) !== 0) throw new CanopyError('ERR_OBJECT_INVALID', `${what} has non-zero header padding`);
  if (8 + len > data.length) throw new CanopyError('ERR_OBJECT_INVALID', `${what} is truncated inside its header`, { length: len });
  return 8 + len;
}

/** The big-endian uint32 at `pos`. */
function be32(d: Uint8Array, pos: number): number {
  return d[pos] * 0x1000000 + ((d[pos + 1] << 16) | (d[pos + 2] << 8) | d[pos + 3]);
}

/** A header from values already byte-swapped (OSTree stores them big-endian); checks rdev and the mode/target pairing. */
function toHeader(uid: number, gid: number, mode: number, rdev: number, target: string, xattrs: readonly Xattr[], what: string): FileHeader {
  if (rdev !== 0) throw new CanopyError('ERR_OBJECT_INVALID', `${what} has a non-zero rdev`);
  const h: FileHeader = { uid, gid, mode, symlinkTarget: target, xattrs };
  checkHeader(h);
  return h;
}

/**
 * Parses the start of a checksummed stream. Returns the header and where
 * the content begins. Throws ERR_OBJECT_INVALID or ERR_FILE_TYPE.
 */
export function parseFileHeader(data: Uint8Array): { header: FileHeader; contentOffset: number } {
  const end = frameEnd(data, 'file header');
  const [uid, gid, mode, rdev, target, xattrs] = parse(HEADER_TYPE, data.subarray(8, end)) as [number, number, number, number, string, unknown];
  const header = toHeader(bswap32(uid), bswap32(gid), bswap32(mode), rdev, target, xattrsFromGValue(xattrs as never, 'file header'), 'file header');
  return { header, contentOffset: end };
}

/**
 * The common archive header, read without the general GVariant parser (a
 * pull reads thousands): no xattrs and an ASCII symlink target. The layout:
 * the size and four uint32s fixed at 0..24, the NUL-terminated target from
 * 24, the xattr array (empty here) after it, and one framing offset, the
 * target's end, in the last 1, 2 or 4 bytes. Returns where the target's NUL
 * is, or -1 for any other header, which the general parser then reads or
 * refuses.
 */
function plainTargetNul(v: Uint8Array): number {
  const n = v.length;
  const k = offsetWidthForSize(n);
  if (n < 24 + 1 + k) return -1;
  const targetEnd = readOffset(v, n - k, k);
  // An empty xattr array: the target ends where the framing offset starts.
  if (targetEnd !== n - k || v[targetEnd - 1] !== 0) return -1;
  for (let i = 24; i < targetEnd - 1; i++) if (v[i] === 0 || v[i] >= 0x80) return -1;
  return targetEnd - 1;
}

/**
 * What `parse(ARCHIVE_TYPE, v)` gives for a header that {@link plainTargetNul}
 * accepts, or undefined. Exported for the test that holds the fast path to
 * the general parser.
 */
export function plainArchiveHeader(v: Uint8Array): [bigint, number, number, number, number, string, []] | undefined {
  const nul = plainTargetNul(v);
  if (nul < 0) return undefined;
  const b = Buffer.from(v.buffer, v.byteOffset, v.length);
  return [b.readBigUInt64LE(0), b.readUInt32LE(8), b.readUInt32LE(12), b.readUInt32LE(16), b.readUInt32LE(20), b.toString('latin1', 24, nul), []];
}

const MAX_SIZE = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * Parses the header of a `.filez` object. Returns the header with the
 * uncompressed size and where the DEFLATE data begins.
 */
export function parseArchiveHeader(data: Uint8Array): { header: ArchiveFileHeader; dataOffset: number } {
  const what = 'archive file header';
  const end = frameEnd(data, what);
  const v = data.subarray(8, end);
  const nul = plainTargetNul(v);
  let size: number;
  let h: FileHeader;
  if (nul >= 0) {
    // The values are big-endian inside little-endian GVariant: read them as such, no swapping.
    const hi = be32(v, 0);
    if (hi > 0x1fffff) throw new CanopyError('ERR_OBJECT_INVALID', 'archive file size out of range');
    size = hi * 0x100000000 + be32(v, 4);
    h = toHeader(be32(v, 8), be32(v, 12), be32(v, 16), be32(v, 20), latin1(v, 24, nul), [], what);
  } else {
    const [sz, uid, gid, mode, rdev, target, xattrs] = parse(ARCHIVE_TYPE, v) as [bigint, number, number, number, number, string, unknown];
    const swapped = bswap64(sz);
    if (swapped > MAX_SIZE) throw new CanopyError('ERR_OBJECT_INVALID', 'archive file size out of range');
    size = Number(swapped);
    h = toHeader(bswap32(uid), bswap32(gid), bswap32(mode), rdev, target, xattrsFromGValue(xattrs as never, what), what);
  }
  if (isLinkMode(h.mode) && size !== 0) throw new CanopyError('ERR_OBJECT_INVALID', 'symlink object with content');
  return { header: { uid: h.uid, gid: h.gid, mode: h.mode, symlinkTarget: h.symlinkTarget, xattrs: h.xattrs, size }, dataOffset: end };
}

/** Bytes `from..to` of `v` as a latin1 (here: ASCII) string. */
function latin1(v: Uint8Array, from: number, to: number): string {
  return Buffer.from(v.buffer, v.byteOffset + from, to - from).toString('latin1');
}
