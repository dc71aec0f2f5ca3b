/**
 * Where the objects a delta produces go. The applier hands over only
 * objects it has hashed against their names; the sink stores them. The
 * interface is shaped like the puller's object writer, so a pull passes
 * its own writer and an offline apply passes {@link transactionSink}.
 */
import { CanopyError } from '../core/errors';
import { isLinkMode, type FileHeader, type ObjectType, type RepoMode } from '../objects/index';
import type { Transaction } from '../repo/index';

export interface DeltaObjectSink {
  has(type: ObjectType, checksum: string): boolean;
  /** Stores a metadata object whose sha256 the caller checked (awaited when it returns a promise). */
  writeMetadata(type: ObjectType, checksum: string, bytes: Uint8Array): Promise<void> | void;
  /** Stores a file object whose checksum the caller checked over header and content. */
  writeContent(checksum: string, header: FileHeader, content: Uint8Array): Promise<void>;
}

/** A sink writing through a repository {@link Transaction}. */
export function transactionSink(tx: Transaction): DeltaObjectSink {
  return {
    has: (type, checksum) => tx.has(checksum, type),
    writeMetadata: (type, _checksum, bytes) => void tx.writeMetadata(type, bytes),
    writeContent: (checksum, header, content) => tx.writeFileObject(checksum, header, content),
  };
}

/**
 * Refuses a file object that a repository of `mode` cannot store under its
 * checksum. A bare-user-only repository keeps neither owners nor xattrs,
 * and (as OSTree) no permission bits outside 0775 on regular files, so an
 * object with any of those would be stored under a checksum its own fsck
 * could not reproduce.
 *
 * @throws CanopyError ERR_REPO_MODE naming the object and the reason.
 */
export function checkStorable(mode: RepoMode, checksum: string, header: FileHeader): void {
  if (mode !== 'bare-user-only') return;
  const why = header.uid !== 0 || header.gid !== 0 ? `is owned by ${header.uid}:${header.gid}`
    : header.xattrs.length > 0 ? `has extended attributes (${header.xattrs.map((x) => x.name).join(', ')})`
    : !isLinkMode(header.mode) && (header.mode & 0o7777 & ~0o775) !== 0 ? `has mode 0${(header.mode & 0o7777).toString(8)}`
    : undefined;
  if (why) {
    throw new CanopyError('ERR_REPO_MODE', `file object ${checksum} ${why}, which a bare-user-only repository cannot store; apply the delta to a bare repository (as root), or commit the tree with canonical permissions`, { checksum, mode: header.mode, uid: header.uid, gid: header.gid });
  }
}
