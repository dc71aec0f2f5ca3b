/**
 * The static-delta superblock:
 * `(a{sv}tayay(a{sv}aya(say)sstayay)aya(uayttay)a(yaytt))` =
 * metadata, timestamp (BE), from checksum (empty for scratch), to checksum,
 * the whole target commit, "recursive deltas" (unused, empty), part
 * headers `(version, sha256 of part file, size, uncompressed size, object
 * list)`, fallback objects `(type, checksum, size, uncompressed size)`.
 *
 * Byte order: the timestamp is big-endian like OSTree's other integers,
 * but the part header's `u`/`t` and the fallback sizes are in the
 * *producer's* byte order, named by the metadata key `ostree.endianness`
 * (`'l'` or `'B'`). Deltas from before that key existed are classified as
 * OSTree does: any part whose size is more than 1.2 times its uncompressed
 * size, or an average compressed size per object above 2^32 - 1, means the
 * fields are swapped relative to a little-endian reader.
 *
 * An object list is the concatenation of 33-byte records: type byte +
 * 32-byte checksum, in the order the part's opcodes produce them.
 */
import { checksumFromBytes, checksumToBytes, sha256Hex } from '../core/bytes';
import { CanopyError } from '../core/errors';
import { dictLookup, parse, serialize, Variant, type VarDict } from '../gvariant/index';
import { bswap32, bswap64, ObjectType } from '../objects/index';

export const SUPERBLOCK_TYPE = '(a{sv}tayay(a{sv}aya(say)sstayay)aya(uayttay)a(yaytt))';
const COMMIT_TYPE = '(a{sv}aya(say)sstayay)';
/** The only part format version that exists. */
export const DELTA_PART_VERSION = 0;
const RECORD = 33;

export type DeltaEndianness = 'l' | 'B';

/** One object a part produces. */
export interface DeltaObjectRef {
  type: ObjectType;
  checksum: string;
}

export interface DeltaPartHeader {
  version: number;
  /** sha256 of the whole part file (compression byte included). */
  checksum: string;
  /** Size of the part file. */
  size: number;
  /** Uncompressed size of the objects the part produces. */
  usize: number;
  objects: DeltaObjectRef[];
}

/** An object fetched as a plain object instead of being in a part. */
export interface DeltaFallback {
  type: ObjectType;
  checksum: string;
  /** Size of the archive object (`.filez`). */
  size: number;
  usize: number;
}

export interface DeltaSuperblock {
  /** In serialized order; includes `ostree.endianness` and inline parts. */
  metadata: VarDict;
  /** Generation time, seconds since the epoch. */
  timestamp: number;
  from: string | null;
  to: string;
  /** The target commit object's bytes (sha256 = `to`). */
  commit: Uint8Array;
  parts: DeltaPartHeader[];
  fallbacks: DeltaFallback[];
  /** Byte order of the part header and fallback integers. */
  endianness: DeltaEndianness;
  /** True when `endianness` was guessed because the metadata lacks the key. */
  endiannessGuessed: boolean;
}

function invalid(why: string, details: Record<string, string | number> = {}): CanopyError {
  return new CanopyError('ERR_DELTA_INVALID', `delta superblock: ${why}`, details);
}

function objType(v: number, where: string): ObjectType {
  if (v < ObjectType.FILE || v > ObjectType.COMMIT) throw invalid(`${where} has object type ${v}`, { type: v });
  return v as ObjectType;
}

function toSafe(v: bigint, where: string): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw invalid(`${where} ${v} is out of range`);
  return Number(v);
}

/**
 * Splits an object list (`ay` of 33-byte records).
 *
 * @throws CanopyError ERR_DELTA_INVALID for a ragged list or a bad type.
 */
export function parseObjectList(list: Uint8Array): DeltaObjectRef[] {
  if (list.length % RECORD !== 0) throw invalid(`object list of ${list.length} bytes is not a multiple of ${RECORD}`);
  const out: DeltaObjectRef[] = [];
  for (let p = 0; p < list.length; p += RECORD) {
    out.push({ type: objType(list[p], 'object list'), checksum: checksumFromBytes(list.subarray(p + 1, p + RECORD)) });
  }
  return out;
}

/** The inverse of {@link parseObjectList}. */
export function serializeObjectList(objects: readonly DeltaObjectRef[]): Uint8Array {
  const out = new Uint8Array(objects.length * RECORD);
  objects.forEach((o, i) => {
    out[i * RECORD] = o.type;
    out.set(checksumToBytes(o.checksum), i * RECORD + 1);
  });
  return out;
}

type RawHeader = [number, Uint8Array, bigint, bigint, Uint8Array];
type RawFallback = [number, Uint8Array, bigint, bigint];

function detectEndianness(metadata: VarDict, headers: RawHeader[]): { endianness: DeltaEndianness; guessed: boolean } {
  const v = dictLookup(metadata, 'ostree.endianness');
  if (v) {
    if (v.type !== 'y') throw invalid(`ostree.endianness has type ${v.type}, expected y`);
    if (v.value === 0x6c) return { endianness: 'l', guessed: false };
    if (v.value === 0x42) return { endianness: 'B', guessed: false };
    throw invalid(`ostree.endianness is ${String(v.value)}, expected 'l' or 'B'`);
  }
  // Raw values as a little-endian reader sees them.
  let objects = 0n;
  let size = 0n;
  for (const [, , s, u, list] of headers) {
    objects += BigInt(Math.floor(list.length / RECORD));
    size += s;
    if (s > u && Number(s) / Number(u) > 1.2) return { endianness: 'B', guessed: true };
  }
  if (objects > 0n && size / objects > 0xffffffffn) return { endianness: 'B', guessed: true };
  return { endianness: 'l', guessed: true };
}

/**
 * Parses and checks a superblock.
 *
 * @param maxSize refuse larger inputs (default: the GVariant metadata limit)
 * @throws CanopyError ERR_GVARIANT_* for malformed bytes; ERR_DELTA_INVALID
 *   for bad checksums, types, sizes or endianness; ERR_DELTA_UNSUPPORTED for
 *   a part version other than 0; ERR_CHECKSUM_MISMATCH when the embedded
 *   commit does not hash to the `to` checksum.
 */
export function parseSuperblock(data: Uint8Array, maxSize?: number): DeltaSuperblock {
  const [metadata, ts, fromBytes, toBytes, commitValue, , rawHeaders, rawFallbacks] = parse(SUPERBLOCK_TYPE, data, maxSize === undefined ? {} : { maxSize }) as [
    VarDict, bigint, Uint8Array, Uint8Array, unknown, Uint8Array, RawHeader[], RawFallback[],
  ];
  const { endianness, guessed } = detectEndianness(metadata, rawHeaders);
  const u32 = (v: number): number => (endianness === 'B' ? bswap32(v) : v);
  const u64 = (v: bigint, where: string): number => toSafe(endianness === 'B' ? bswap64(v) : v, where);
  const from = fromBytes.length === 0 ? null : checksumFromBytes(fromBytes, 'delta from-checksum');
  const to = checksumFromBytes(toBytes, 'delta to-checksum');
  const commit = serialize(COMMIT_TYPE, commitValue as never);
  if (sha256Hex(commit) !== to) {
    throw new CanopyError('ERR_CHECKSUM_MISMATCH', `delta superblock: the embedded commit does not hash to ${to}`, { to });
  }
  const parts = rawHeaders.map(([version, csum, size, usize, list], i): DeltaPartHeader => {
    const v = u32(version);
    if (v !== DELTA_PART_VERSION) throw new CanopyError('ERR_DELTA_UNSUPPORTED', `delta part ${i} has version ${v}`, { part: i, version: v });
    return {
      version: v,
      checksum: checksumFromBytes(csum, `part ${i} checksum`),
      size: u64(size, `part ${i} size`),
      usize: u64(usize, `part ${i} uncompressed size`),
      objects: parseObjectList(list),
    };
  });
  const fallbacks = rawFallbacks.map(([type, csum, size, usize], i): DeltaFallback => ({
    type: objType(type, `fallback ${i}`),
    checksum: checksumFromBytes(csum, `fallback ${i} checksum`),
    size: u64(size, `fallback ${i} size`),
    usize: u64(usize, `fallback ${i} uncompressed size`),
  }));
  return { metadata, timestamp: toSafe(bswap64(ts), 'timestamp'), from, to, commit: Uint8Array.from(commit), parts, fallbacks, endianness, endiannessGuessed: guessed };
}

/**
 * Serializes a superblock with its integers in `sb.endianness` order. The
 * `ostree.endianness` key is added when the metadata lacks it.
 *
 * @throws CanopyError ERR_INVALID_ARGUMENT when the metadata's endianness
 *   key disagrees with `sb.endianness`, or the commit does not parse.
 */
export function serializeSuperblock(sb: Omit<DeltaSuperblock, 'endiannessGuessed'>): Buffer {
  const mark = sb.endianness === 'B' ? 0x42 : 0x6c;
  const existing = dictLookup(sb.metadata, 'ostree.endianness');
  if (existing && existing.value !== mark) throw new CanopyError('ERR_INVALID_ARGUMENT', 'ostree.endianness in the metadata disagrees with the endianness asked for');
  const metadata: VarDict = existing ? sb.metadata : [...sb.metadata, ['ostree.endianness', new Variant('y', mark)]];
  const swap = sb.endianness === 'B';
  const u32 = (v: number): number => (swap ? bswap32(v) : v);
  const u64 = (v: number): bigint => (swap ? bswap64(BigInt(v)) : BigInt(v));
  return serialize(SUPERBLOCK_TYPE, [
    metadata,
    bswap64(BigInt(sb.timestamp)),
    sb.from === null ? new Uint8Array(0) : checksumToBytes(sb.from),
    checksumToBytes(sb.to),
    parse(COMMIT_TYPE, sb.commit) as never,
    new Uint8Array(0),
    sb.parts.map((p) => [u32(p.version), checksumToBytes(p.checksum), u64(p.size), u64(p.usize), serializeObjectList(p.objects)]),
    sb.fallbacks.map((f) => [f.type, checksumToBytes(f.checksum), u64(f.size), u64(f.usize)]),
  ]);
}

/**
 * The part file of part `index` when it is stored inline in the superblock
 * metadata (key `<deltaDir>/<index>`, a `(yay)` variant), else undefined.
 * The returned bytes are exactly what the part file would hold.
 */
export function inlinePart(sb: DeltaSuperblock, key: string): Uint8Array | undefined {
  const v = dictLookup(sb.metadata, key);
  if (!v) return undefined;
  if (v.type !== '(yay)') throw invalid(`inline part ${key} has type ${v.type}, expected (yay)`);
  return serialize('(yay)', v.value);
}

/** The target's detached metadata carried in the superblock, if any. */
export function superblockCommitMeta(sb: DeltaSuperblock, key: string): VarDict | undefined {
  const v = dictLookup(sb.metadata, key);
  if (!v) return undefined;
  if (v.type !== 'a{sv}') throw invalid(`${key} has type ${v.type}, expected a{sv}`);
  return v.value as VarDict;
}
