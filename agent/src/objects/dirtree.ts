/**
 * Directory trees: `(a(say)a(sayay))`, files and subdirectories each sorted
 * by the bytes of their names. Names from a parsed dirtree are validated
 * before anything can join them to a path.
 */
import { checksumFromBytes, checksumToBytes, compareUtf8, sha256Hex } from '../core/bytes';
import { CanopyError } from '../core/errors';
import { Limits } from '../core/limits';
import { assertSafeName } from '../core/names';
import { parse, serialize } from '../gvariant/index';

export interface DirTreeFile {
  readonly name: string;
  /** Checksum of the file (content) object. */
  readonly checksum: string;
}

export interface DirTreeDir {
  readonly name: string;
  /** Checksum of the child dirtree. */
  readonly tree: string;
  /** Checksum of the child dirmeta. */
  readonly meta: string;
}

export interface DirTree {
  readonly files: readonly DirTreeFile[];
  readonly dirs: readonly DirTreeDir[];
}

const TYPE = '(a(say)a(sayay))';

const byName = (a: { name: string }, b: { name: string }): number => compareUtf8(a.name, b.name);

/** Serializes a dirtree, sorting its entries as OSTree does. */
export function serializeDirTree(t: DirTree): Buffer {
  const files = [...t.files].sort(byName);
  const dirs = [...t.dirs].sort(byName);
  checkNames(files, dirs);
  return serialize(TYPE, [
    files.map((f) => [f.name, checksumToBytes(f.checksum)]),
    dirs.map((d) => [d.name, checksumToBytes(d.tree), checksumToBytes(d.meta)]),
  ]);
}

/**
 * Parses and validates a dirtree. Throws ERR_UNSAFE_NAME for a name that is
 * empty, `.`, `..`, or contains `/` or NUL; ERR_OBJECT_INVALID for a
 * duplicate name or a checksum that is not 32 bytes.
 */
export function parseDirTree(data: Uint8Array): DirTree {
  const [rawFiles, rawDirs] = parse(TYPE, data) as [[string, Uint8Array][], [string, Uint8Array, Uint8Array][]];
  if (rawFiles.length + rawDirs.length > Limits.maxDirEntries) {
    throw new CanopyError('ERR_OBJECT_INVALID', `dirtree has too many entries (${rawFiles.length + rawDirs.length})`);
  }
  const files = rawFiles.map(([name, c]) => ({ name, checksum: checksumFromBytes(c, `dirtree file ${JSON.stringify(name)}`) }));
  const dirs = rawDirs.map(([name, tree, meta]) => ({
    name,
    tree: checksumFromBytes(tree, `dirtree subdir ${JSON.stringify(name)}`),
    meta: checksumFromBytes(meta, `dirtree subdir ${JSON.stringify(name)} meta`),
  }));
  checkNames(files, dirs);
  return { files, dirs };
}

function checkNames(files: readonly { name: string }[], dirs: readonly { name: string }[]): void {
  const seen = new Set<string>();
  for (const e of [...files, ...dirs]) {
    assertSafeName(e.name, 'dirtree entry');
    if (seen.has(e.name)) throw new CanopyError('ERR_OBJECT_INVALID', `dirtree has duplicate entry ${JSON.stringify(e.name)}`, { name: e.name });
    seen.add(e.name);
  }
}

export function dirTreeChecksum(t: DirTree): string {
  return sha256Hex(serializeDirTree(t));
}

/** The checksum of the empty dirtree, shared by every empty directory. */
export const EMPTY_DIRTREE_CHECKSUM = sha256Hex(serializeDirTree({ files: [], dirs: [] }));
