/**
 * The repository summary: `(a(s(taya{sv}))a{sv})`. Refs are sorted by name
 * (clients binary-search them). The commit size is stored in the producer's
 * byte order (little-endian here); the ref timestamp is big-endian.
 */
import { checksumFromBytes, checksumToBytes, compareUtf8 } from '../core/bytes';
import { CanopyError } from '../core/errors';
import { assertRef } from '../core/names';
import { parse, serialize, variant, type Variant, type VarDict } from '../gvariant/index';
import { bswap64 } from './dirmeta';

export interface SummaryRef {
  readonly name: string;
  readonly commit: string;
  /** Size of the `.commit` object in bytes. */
  readonly commitSize: number;
  readonly metadata: VarDict;
}

export interface Summary {
  readonly refs: readonly SummaryRef[];
  readonly metadata: VarDict;
}

const TYPE = '(a(s(taya{sv}))a{sv})';

export function serializeSummary(s: Summary): Buffer {
  const refs = [...s.refs].sort((a, b) => compareUtf8(a.name, b.name));
  return serialize(TYPE, [
    refs.map((r) => [assertRef(r.name), [BigInt(r.commitSize), checksumToBytes(r.commit), r.metadata]]),
    s.metadata,
  ]);
}

/** Parses and validates a summary. Refs must be valid, sorted and unique. */
export function parseSummary(data: Uint8Array): Summary {
  const [rawRefs, metadata] = parse(TYPE, data) as [[string, [bigint, Uint8Array, VarDict]][], VarDict];
  const refs: SummaryRef[] = rawRefs.map(([name, [size, csum, md]]) => {
    assertRef(name);
    if (size > BigInt(Number.MAX_SAFE_INTEGER)) throw new CanopyError('ERR_OBJECT_INVALID', `summary ref ${name} has an impossible commit size`);
    return { name, commit: checksumFromBytes(csum, `summary ref ${name}`), commitSize: Number(size), metadata: md };
  });
  for (let i = 1; i < refs.length; i++) {
    if (compareUtf8(refs[i - 1].name, refs[i].name) >= 0) {
      throw new CanopyError('ERR_OBJECT_INVALID', `summary refs are not sorted or not unique at ${refs[i].name}`);
    }
  }
  return { refs, metadata };
}

/** Ref metadata OSTree writes: the commit's timestamp (BE) and version. */
export function summaryRefMetadata(timestamp: number, version?: string): VarDict {
  const md: VarDict = [['ostree.commit.timestamp', variant('t', bswap64(BigInt(timestamp)))]];
  if (version !== undefined) md.push(['ostree.commit.version', variant('s', version)]);
  return md;
}

/** Reads `ostree.commit.timestamp` from ref metadata. */
export function summaryRefTimestamp(r: SummaryRef): number | undefined {
  const v = r.metadata.find(([k]) => k === 'ostree.commit.timestamp')?.[1];
  return v && v.type === 't' ? Number(bswap64(v.value as bigint)) : undefined;
}

export function summaryLookup(s: Summary, key: string): Variant | undefined {
  return s.metadata.find(([k]) => k === key)?.[1];
}
