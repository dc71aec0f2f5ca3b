/**
 * Directory trees: `(a(say)a(sayay))`, files and subdirectories each sorted
 * by the bytes of their names. Names from a parsed dirtree are validated
 * before anything can join them to a path.
 */
import { checksumFromBytes, checksumToBytes, compareUtf8, sha256Hex } from '../core/bytes';
import { CanopyError } from '../core/errors';
import { Limits } from '../core/limits';
import { assertSafeName } from '../core/names';
import { offsetWidthForSize, parse, readOffset, serialize } from '../gvariant/index';

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
  const plain = plainDirTree(data);
  if (plain) {
    checkCount(plain.files.length + plain.dirs.length);
    checkNames(plain.files, plain.dirs);
    return plain;
  }
  const [rawFiles, rawDirs] = parse(TYPE, data) as [[string, Uint8Array][], [string, Uint8Array, Uint8Array][]];
  checkCount(rawFiles.length + rawDirs.length);
  const files = rawFiles.map(([name, c]) => ({ name, checksum: checksumFromBytes(c, `dirtree file ${JSON.stringify(name)}`) }));
  const dirs = rawDirs.map(([name, tree, meta]) => ({
    name,
    tree: checksumFromBytes(tree, `dirtree subdir ${JSON.stringify(name)}`),
    meta: checksumFromBytes(meta, `dirtree subdir ${JSON.stringify(name)} meta`),
  }));
  checkNames(files, dirs);
  return { files, dirs };
}

function checkCount(n: number): void {
  if (n > Limits.maxDirEntries) throw new CanopyError('ERR_OBJECT_INVALID', `dirtree has too many entries (${n})`);
}

/**
 * The common dirtree, read without the general GVariant parser (a pull
 * reads hundreds, most of them before its first file object): ASCII names,
 * 32-byte checksums, every framing offset where a writer in normal form
 * puts it. Returns undefined for anything else, which the general parser
 * then reads or refuses. Names are not checked here (parseDirTree does).
 * Exported for the test that holds it to the general parser.
 *
 * Layout, all alignments 1: the files array, the subdirectories array, and
 * the files array's end as the tuple's one framing offset. An array of
 * variable-size elements ends with one offset per element (its end); an
 * element `(say)` ends with the name's end, `(sayay)` with the name's end
 * and then, before it, the tree checksum's end. Every offset has the width
 * that the size of its container gives.
 */
export function plainDirTree(d: Uint8Array): DirTree | undefined {
  const n = d.length;
  if (n === 0 || n > Limits.maxMetadataSize) return undefined;
  const b = Buffer.from(d.buffer, d.byteOffset, n);
  const w = offsetWidthForSize(n);
  const mid = readOffset(b, n - w, w);
  if (mid > n - w) return undefined;
  const files: DirTreeFile[] = [];
  const dirs: DirTreeDir[] = [];
  const file = (s: number, e: number): boolean => {
    const k = offsetWidthForSize(e - s);
    if (e - s <= k) return false;
    const nameEnd = s + readOffset(b, e - k, k);
    const name = asciiString(b, s, nameEnd);
    if (name === undefined || e - k !== nameEnd + 32) return false;
    files.push({ name, checksum: b.toString('hex', nameEnd, nameEnd + 32) });
    return true;
  };
  const dir = (s: number, e: number): boolean => {
    const k = offsetWidthForSize(e - s);
    if (e - s <= 2 * k) return false;
    const nameEnd = s + readOffset(b, e - k, k);
    const treeEnd = s + readOffset(b, e - 2 * k, k);
    const name = asciiString(b, s, nameEnd);
    if (name === undefined || treeEnd !== nameEnd + 32 || e - 2 * k !== treeEnd + 32) return false;
    dirs.push({ name, tree: b.toString('hex', nameEnd, treeEnd), meta: b.toString('hex', treeEnd, treeEnd + 32) });
    return true;
  };
  return eachElement(b, 0, mid, file) && eachElement(b, mid, n - w, dir) ? { files, dirs } : undefined;
}

/** Calls `f` with the bounds of each element of the array of variable-size elements in `start..end`; false if its framing is not what a normal-form writer makes, or `f` says no. */
function eachElement(b: Buffer, start: number, end: number, f: (s: number, e: number) => boolean): boolean {
  const size = end - start;
  if (size === 0) return true;
  const w = offsetWidthForSize(size);
  const table = readOffset(b, end - w, w);
  if (table > size - w || (size - table) % w !== 0) return false;
  // The last offset is both the last element's end and where the table starts: nothing lies between.
  let pos = 0;
  for (let at = start + table; at < end; at += w) {
    const e = readOffset(b, at, w);
    if (e < pos || e > table || !f(start + pos, start + e)) return false;
    pos = e;
  }
  return true;
}

/** The NUL-terminated ASCII string in `s..e` (the NUL is the last byte), or undefined for anything else. */
function asciiString(b: Buffer, s: number, e: number): string | undefined {
  if (e <= s || e > b.length || b[e - 1] !== 0) return undefined;
  for (let i = s; i < e - 1; i++) if (b[i] === 0 || b[i] >= 0x80) return undefined;
  return b.toString('latin1', s, e - 1);
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
