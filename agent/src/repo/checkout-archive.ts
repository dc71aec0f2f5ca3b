/**
 * Reading archive (`.filez`) content objects for a checkout. Every object is
 * verified as it is decompressed: the sha256 of its header and inflated
 * content must equal its name. That costs little (the bytes are already in
 * memory, and sha256 runs at over 1 GB/s) and means a corrupt or tampered
 * archive repository never lands in a checkout.
 *
 * Objects small enough are read and inflated in memory with synchronous
 * calls (fastest for many small files); larger ones are streamed, so memory
 * stays bounded whatever a file's size.
 */
import { createHash } from 'node:crypto';
import { closeSync, createReadStream, fstatSync, openSync, readSync, writeSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { createInflateRaw, inflateRawSync } from 'node:zlib';
import { CanopyError, ioError } from '../core/errors';
import { Limits } from '../core/limits';
import { fileChecksum, fileHeaderBytes, isLinkMode, parseArchiveHeader, type ArchiveFileHeader } from '../objects/index';

/** Objects up to this compressed size are read whole. */
const WHOLE_READ_MAX = 16 << 20;
/** Content up to this size is inflated in memory; larger content is streamed. */
const IN_MEMORY_MAX = 64 << 20;

/** A `.filez` object: content in memory (verified), or where to stream it from. */
export type ArchiveObject =
  | { readonly header: ArchiveFileHeader; readonly content: Buffer }
  | { readonly header: ArchiveFileHeader; readonly content?: undefined; readonly dataOffset: number };

function readFull(fd: number, buf: Buffer, position: number): void {
  let off = 0;
  while (off < buf.length) {
    const n = readSync(fd, buf, off, buf.length - off, position + off);
    if (n === 0) throw new CanopyError('ERR_OBJECT_INVALID', 'object is truncated');
    off += n;
  }
}

/** Writes all of `data` to `fd`. */
export function writeAll(fd: number, data: Uint8Array): void {
  let off = 0;
  while (off < data.length) off += writeSync(fd, data, off, data.length - off);
}

function invalid(checksum: string, path: string, why: string, cause?: unknown): CanopyError {
  return new CanopyError('ERR_OBJECT_INVALID', `file object ${checksum} (${path}): ${why}`, { checksum, path }, { cause });
}

function mismatch(checksum: string, path: string, actual: string): CanopyError {
  return new CanopyError('ERR_CHECKSUM_MISMATCH', `${path} is corrupt: it hashes to ${actual}`, { checksum, actual, path });
}

/**
 * Reads the `.filez` object at `path`. Symlinks and content up to
 * `inMemoryMax` (default 64 MiB) come back inflated and verified; larger
 * content comes back as an offset for {@link inflateArchiveTo}. Throws
 * ERR_OBJECT_NOT_FOUND, ERR_OBJECT_INVALID (bad header, bad DEFLATE data,
 * wrong size) or ERR_CHECKSUM_MISMATCH.
 */
export function readArchiveObject(path: string, checksum: string, inMemoryMax = IN_MEMORY_MAX): ArchiveObject {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new CanopyError('ERR_OBJECT_NOT_FOUND', `file object ${checksum} is not in the repository (${path})`, { checksum, path });
    throw ioError(e, 'open', path);
  }
  let data: Buffer;
  let whole: boolean;
  try {
    const size = fstatSync(fd).size;
    whole = size <= Math.min(WHOLE_READ_MAX, inMemoryMax);
    if (whole) {
      data = Buffer.allocUnsafe(size);
      readFull(fd, data, 0);
    } else {
      const lenBuf = Buffer.alloc(8);
      readFull(fd, lenBuf, 0);
      const len = lenBuf.readUInt32BE(0);
      if (len > Limits.maxFileHeaderSize) throw invalid(checksum, path, `declares a header of ${len} bytes`);
      data = Buffer.allocUnsafe(8 + len);
      readFull(fd, data, 0);
    }
  } catch (e) {
    if (e instanceof CanopyError) throw e.code === 'ERR_OBJECT_INVALID' && !e.details.checksum ? invalid(checksum, path, e.message, e) : e;
    throw ioError(e, 'read', path);
  } finally {
    closeSync(fd);
  }
  let header: ArchiveFileHeader;
  let dataOffset: number;
  try {
    ({ header, dataOffset } = parseArchiveHeader(data));
  } catch (e) {
    if (e instanceof CanopyError) throw new CanopyError(e.code, `file object ${checksum} (${path}): ${e.message}`, { ...e.details, checksum, path }, { cause: e });
    throw e;
  }
  if (isLinkMode(header.mode)) {
    const actual = fileChecksum(header);
    if (actual !== checksum) throw mismatch(checksum, path, actual);
    return { header, content: Buffer.alloc(0) };
  }
  if (!whole || header.size > inMemoryMax) return { header, dataOffset };
  let content: Buffer;
  try {
    content = inflateRawSync(data.subarray(dataOffset), { maxOutputLength: Math.max(1, header.size) });
  } catch (e) {
    throw invalid(checksum, path, `content does not inflate to the ${header.size} bytes its header declares (${(e as Error).message})`, e);
  }
  if (content.length !== header.size) throw invalid(checksum, path, `content is ${content.length} bytes, its header says ${header.size}`);
  const actual = fileChecksum(header, content);
  if (actual !== checksum) throw mismatch(checksum, path, actual);
  return { header, content };
}

/**
 * Streams the content of a large `.filez` object into `fd`, hashing it on
 * the way. Throws ERR_OBJECT_INVALID when the content is larger or smaller
 * than declared or the DEFLATE data is bad, ERR_CHECKSUM_MISMATCH when it
 * does not hash to `checksum` (the caller then discards what was written).
 */
export async function inflateArchiveTo(path: string, checksum: string, header: ArchiveFileHeader, dataOffset: number, fd: number): Promise<void> {
  const hash = createHash('sha256').update(fileHeaderBytes(header));
  let total = 0;
  let sinkError: unknown;
  try {
    await pipeline(createReadStream(path, { start: dataOffset, highWaterMark: 1 << 20 }), createInflateRaw(), async (source: AsyncIterable<Buffer>) => {
      try {
        for await (const chunk of source) {
          total += chunk.length;
          if (total > header.size) throw invalid(checksum, path, `content inflates to more than the ${header.size} bytes its header declares`);
          hash.update(chunk);
          writeAll(fd, chunk);
        }
      } catch (e) {
        sinkError ??= e; // pipeline may report the abort it causes instead
        throw e;
      }
    });
  } catch (e) {
    const err = sinkError ?? e;
    if (err instanceof CanopyError) throw err;
    const code = (err as NodeJS.ErrnoException).code ?? '';
    if (code.startsWith('Z_') || code.startsWith('ERR_ZLIB')) throw invalid(checksum, path, `bad DEFLATE data (${(err as Error).message})`, err);
    throw ioError(err, 'inflate', path);
  }
  if (total !== header.size) throw invalid(checksum, path, `content is ${total} bytes, its header says ${header.size}`);
  const actual = hash.digest('hex');
  if (actual !== checksum) throw mismatch(checksum, path, actual);
}
