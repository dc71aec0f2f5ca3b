/**
 * Checking fetched file objects before they go into the repository. A
 * `.filez` is parsed (bounded header, rdev 0, regular file or symlink),
 * inflated with a cap at the declared size, and the checksummed stream
 * (header ‖ content) re-hashed: it must equal the name it was fetched
 * under. Large objects are checked from a spool file as a stream.
 *
 * A bare-user-only repository can only hold what it can represent (uid and
 * gid 0, no xattrs, no setuid/setgid/sticky or world-writable bits): other
 * objects are refused here rather than stored under a checksum that its own
 * fsck would then reject.
 */
import { createHash } from 'node:crypto';
import { closeSync, createReadStream, openSync, readSync, statSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import { createInflateRaw, inflateRaw, inflateRawSync } from 'node:zlib';
import { promisify } from 'node:util';
import { CanopyError, ioError } from '../core/errors';
import { Limits } from '../core/limits';
import { fileChecksum, fileHeaderBytes, isLinkMode, parseArchiveHeader, type ArchiveFileHeader, type FileHeader, type RepoMode } from '../objects/index';

const inflateRawAsync = promisify(inflateRaw);
/** Compressed sizes up to this are inflated synchronously. */
const SYNC_INFLATE_MAX = 64 * 1024;

/** ERR_OBJECT_INVALID for a fetched file object. */
export function invalid(checksum: string, message: string, cause?: unknown): CanopyError {
  return new CanopyError('ERR_OBJECT_INVALID', `file object ${checksum}: ${message}`, { checksum }, { cause });
}

/** ERR_CHECKSUM_MISMATCH for a fetched file object. */
export function mismatch(checksum: string, actual: string): CanopyError {
  return new CanopyError('ERR_CHECKSUM_MISMATCH', `file object ${checksum} as fetched hashes to ${actual}: corrupt in transit or on the server`, { checksum, actual });
}

function parseHeader(checksum: string, data: Uint8Array): { header: ArchiveFileHeader; dataOffset: number } {
  try {
    return parseArchiveHeader(data);
  } catch (e) {
    if (e instanceof CanopyError) throw new CanopyError(e.code === 'ERR_FILE_TYPE' ? 'ERR_FILE_TYPE' : 'ERR_OBJECT_INVALID', `file object ${checksum}: ${e.message}`, { ...e.details, checksum }, { cause: e });
    throw e;
  }
}

function checkSize(checksum: string, size: number, maxContentSize: number): void {
  if (size > maxContentSize) throw invalid(checksum, `declares ${size} bytes of content, more than the ${maxContentSize} allowed`);
}

/**
 * Parses the header of a `.filez` held in memory and checks its declared
 * size; the content is not looked at. Throws ERR_OBJECT_INVALID, ERR_FILE_TYPE.
 */
export function parseFetchedHeader(checksum: string, raw: Uint8Array, maxContentSize: number): { header: ArchiveFileHeader; dataOffset: number } {
  const parsed = parseHeader(checksum, raw);
  checkSize(checksum, parsed.header.size, maxContentSize);
  return parsed;
}

/**
 * Verifies a `.filez` held in memory; returns its header and inflated
 * content. Throws ERR_OBJECT_INVALID, ERR_FILE_TYPE, ERR_CHECKSUM_MISMATCH.
 */
export async function verifyArchiveBuffer(checksum: string, raw: Buffer, maxContentSize: number): Promise<{ header: ArchiveFileHeader; content: Buffer }> {
  const { header, dataOffset } = parseFetchedHeader(checksum, raw, maxContentSize);
  let content: Buffer;
  if (isLinkMode(header.mode)) {
    if (raw.length !== dataOffset) throw invalid(checksum, 'a symlink object carries content bytes');
    content = Buffer.alloc(0);
  } else {
    try {
      // Small objects inflate faster on this thread than through the thread pool's round trip.
      const data = raw.subarray(dataOffset);
      // One output chunk of the declared size: no per-16-KiB round trips into zlib, no concatenation.
      const o = { maxOutputLength: Math.max(1, header.size), chunkSize: Math.min(Math.max(header.size, 64), 64 << 20) };
      content = data.length <= SYNC_INFLATE_MAX ? inflateRawSync(data, o) : await inflateRawAsync(data, o);
    } catch (e) {
      throw invalid(checksum, `content does not inflate to the declared ${header.size} bytes: ${(e as Error).message}`, e);
    }
    if (content.length !== header.size) throw invalid(checksum, `content inflates to ${content.length} bytes, the header says ${header.size}`);
  }
  const actual = fileChecksum(header, content);
  if (actual !== checksum) throw mismatch(checksum, actual);
  return { header, content };
}

/** Reads the archive header at the start of a spooled `.filez`. */
export function readArchiveFileHeader(checksum: string, path: string): { header: ArchiveFileHeader; dataOffset: number } {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw ioError(e, 'open', path);
  }
  try {
    const head = Buffer.alloc(8);
    if (readSync(fd, head, 0, 8, 0) < 8) throw invalid(checksum, 'truncated before its header');
    const len = head.readUInt32BE(0);
    if (len > Limits.maxFileHeaderSize) throw invalid(checksum, `declares a header of ${len} bytes`);
    const buf = Buffer.alloc(8 + len);
    if (readSync(fd, buf, 0, 8 + len, 0) < 8 + len) throw invalid(checksum, 'truncated inside its header');
    return parseHeader(checksum, buf);
  } finally {
    closeSync(fd);
  }
}

/**
 * Verifies a spooled `.filez` by streaming it through inflate and sha256.
 * Returns the header and where the DEFLATE data starts. Same errors as
 * {@link verifyArchiveBuffer}.
 */
export async function verifyArchiveFile(checksum: string, path: string, maxContentSize: number): Promise<{ header: ArchiveFileHeader; dataOffset: number }> {
  const { header, dataOffset } = readArchiveFileHeader(checksum, path);
  checkSize(checksum, header.size, maxContentSize);
  const hash = createHash('sha256').update(fileHeaderBytes(header));
  if (isLinkMode(header.mode)) {
    if (statSync(path).size !== dataOffset) throw invalid(checksum, 'a symlink object carries content bytes');
    const actual = hash.digest('hex');
    if (actual !== checksum) throw mismatch(checksum, actual);
    return { header, dataOffset };
  }
  let n = 0;
  const counter = new Writable({
    write(chunk: Buffer, _enc, cb) {
      n += chunk.length;
      if (n > header.size) cb(invalid(checksum, `content inflates to more than the declared ${header.size} bytes`));
      else {
        hash.update(chunk);
        cb();
      }
    },
  });
  try {
    await pipeline(createReadStream(path, { start: dataOffset, highWaterMark: 1 << 20 }), createInflateRaw({ chunkSize: 1 << 20 }), counter);
  } catch (e) {
    if (e instanceof CanopyError) throw e;
    throw invalid(checksum, `content does not inflate: ${(e as Error).message}`, e);
  }
  if (n !== header.size) throw invalid(checksum, `content inflates to ${n} bytes, the header says ${header.size}`);
  const actual = hash.digest('hex');
  if (actual !== checksum) throw mismatch(checksum, actual);
  return { header, dataOffset };
}

/** Verifies a file object given as header and content (a local source). */
export function verifyPlainContent(checksum: string, header: FileHeader, content: Uint8Array): void {
  const actual = fileChecksum(header, content);
  if (actual !== checksum) throw mismatch(checksum, actual);
}

/**
 * Throws ERR_REPO_MODE when a repository of `mode` cannot store the object
 * faithfully (bare-user-only: uid/gid other than 0, xattrs, or mode bits
 * outside 0775, as ostree refuses them).
 */
export function checkStorable(mode: RepoMode, checksum: string, header: FileHeader): void {
  if (mode !== 'bare-user-only') return;
  const why = header.uid !== 0 || header.gid !== 0 ? `is owned by ${header.uid}:${header.gid}`
    : header.xattrs.length > 0 ? `has extended attributes (${header.xattrs.map((x) => x.name).join(', ')})`
    : !isLinkMode(header.mode) && (header.mode & 0o7777 & ~0o775) !== 0 ? `has mode 0${(header.mode & 0o7777).toString(8)}`
    : undefined;
  if (why) {
    throw new CanopyError('ERR_REPO_MODE', `file object ${checksum} ${why}, which a bare-user-only repository cannot store; pull into a bare repository (as root), or commit the tree with canonical permissions`, { checksum, mode: header.mode, uid: header.uid, gid: header.gid });
  }
}
