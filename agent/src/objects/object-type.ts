/**
 * Object types, their numeric codes (used on the wire in static deltas and
 * `ostree.sizes`) and where each lives inside `objects/`.
 */
import { assertChecksum } from '../core/bytes';
import { CanopyError } from '../core/errors';

export const ObjectType = {
  FILE: 1,
  DIR_TREE: 2,
  DIR_META: 3,
  COMMIT: 4,
  TOMBSTONE_COMMIT: 5,
  COMMIT_META: 6,
} as const;
export type ObjectType = (typeof ObjectType)[keyof typeof ObjectType];

/** Repository modes Canopy reads and writes. */
export type RepoMode = 'archive' | 'bare' | 'bare-user-only';

const METADATA_EXT: Record<number, string> = {
  [ObjectType.DIR_TREE]: 'dirtree',
  [ObjectType.DIR_META]: 'dirmeta',
  [ObjectType.COMMIT]: 'commit',
  [ObjectType.TOMBSTONE_COMMIT]: 'tombstone-commit',
  [ObjectType.COMMIT_META]: 'commitmeta',
};

/** The file extension of an object of `type` in a repository of `mode`. */
export function objectExtension(type: ObjectType, mode: RepoMode): string {
  if (type === ObjectType.FILE) return mode === 'archive' ? 'filez' : 'file';
  const ext = METADATA_EXT[type];
  if (!ext) throw new CanopyError('ERR_OBJECT_TYPE', `unknown object type ${type}`, { type });
  return ext;
}

/** The extension back to its type; undefined for names that are not objects. */
export function objectTypeFromExtension(ext: string): ObjectType | undefined {
  switch (ext) {
    case 'file': case 'filez': return ObjectType.FILE;
    case 'dirtree': return ObjectType.DIR_TREE;
    case 'dirmeta': return ObjectType.DIR_META;
    case 'commit': return ObjectType.COMMIT;
    case 'tombstone-commit': return ObjectType.TOMBSTONE_COMMIT;
    case 'commitmeta': return ObjectType.COMMIT_META;
    default: return undefined;
  }
}

/** `objects/ab/cdef….ext`, relative to the repository. */
export function objectRelPath(checksum: string, type: ObjectType, mode: RepoMode): string {
  assertChecksum(checksum);
  return `objects/${checksum.slice(0, 2)}/${checksum.slice(2)}.${objectExtension(type, mode)}`;
}

/** True for types stored as GVariant metadata (same bytes in every mode). */
export function isMetadataType(type: ObjectType): boolean {
  return type !== ObjectType.FILE;
}

export function objectTypeName(type: ObjectType): string {
  return type === ObjectType.FILE ? 'file' : METADATA_EXT[type] ?? `type-${type}`;
}

/** POSIX file type bits. */
export const S_IFMT = 0o170000;
export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;
export const S_IFLNK = 0o120000;

export const isDirMode = (m: number): boolean => (m & S_IFMT) === S_IFDIR;
export const isRegMode = (m: number): boolean => (m & S_IFMT) === S_IFREG;
export const isLinkMode = (m: number): boolean => (m & S_IFMT) === S_IFLNK;
