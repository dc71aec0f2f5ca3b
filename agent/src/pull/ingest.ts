/**
 * One fetched file object, from the wire to the writer: verified first
 * (content-verify.ts), checked against what the repository mode can store,
 * then stored: an archive repository keeps the `.filez` as fetched, a bare
 * one gets the inflated content. With store workers, an object held in
 * memory is handed to one, which verifies it before storing it. A small
 * body that declares a huge content is inflated from disk, so memory stays
 * bounded.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkStorable, parseFetchedHeader, verifyArchiveBuffer, verifyArchiveFile, verifyPlainContent } from './content-verify';
import type { ContentItem } from './object-source';
import type { PullWriter } from './pull-writer';

export interface IngestOptions {
  /** Largest uncompressed content accepted (default 8 GiB). */
  maxContentSize?: number;
  /** Content larger than this is inflated from a spool file (default 16 MiB). */
  inMemoryLimit?: number;
}

/**
 * Verifies and stores one file object. Throws ERR_CHECKSUM_MISMATCH,
 * ERR_OBJECT_INVALID, ERR_FILE_TYPE, ERR_REPO_MODE, and the writer's I/O codes.
 */
export async function ingestContent(writer: PullWriter, checksum: string, item: ContentItem, opts: IngestOptions = {}): Promise<void> {
  const maxContent = opts.maxContentSize ?? 8 * 2 ** 30;
  const mode = writer.repo.mode;
  if (item.kind === 'plain') {
    verifyPlainContent(checksum, item.header, item.content);
    checkStorable(mode, checksum, item.header);
    await writer.writeContent(checksum, item.header, item.content);
    return;
  }
  let { data, file } = item.body;
  if (data) {
    // The header is parsed once here; a bad one is refused before anything else.
    const { header, dataOffset } = parseFetchedHeader(checksum, data, maxContent);
    if (header.size > (opts.inMemoryLimit ?? 16 << 20)) {
      file = join(writer.spoolDir, `${checksum}.filez`);
      writeFileSync(file, data);
      data = undefined;
    } else if (writer.offloads) {
      checkStorable(mode, checksum, header);
      await writer.handOver(checksum, header, data, dataOffset);
      return;
    }
  }
  if (data) {
    const { header, content } = await verifyArchiveBuffer(checksum, data, maxContent);
    checkStorable(mode, checksum, header);
    if (mode === 'archive') await writer.writeArchiveRaw(checksum, data);
    else await writer.writeContent(checksum, header, content);
    return;
  }
  try {
    const { header, dataOffset } = await verifyArchiveFile(checksum, file!, maxContent);
    checkStorable(mode, checksum, header);
    if (mode === 'archive') await writer.adoptArchiveFile(checksum, file!);
    else await writer.writeFromArchiveFile(checksum, header, file!, dataOffset);
  } finally {
    rmSync(file!, { force: true });
  }
}
