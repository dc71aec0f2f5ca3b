/**
 * Commit objects: `(a{sv}aya(say)sstayay)` = metadata, parent, related
 * objects, subject, body, timestamp (big-endian), root dirtree, root
 * dirmeta. The commit's checksum is the sha256 of these bytes.
 */
import { checksumFromBytes, checksumToBytes, sha256Hex } from '../core/bytes';
import { CanopyError } from '../core/errors';
import { parse, serialize, type Variant, type VarDict } from '../gvariant/index';
import { bswap64 } from './dirmeta';

export interface Commit {
  /** Commit metadata in its serialized order (OSTree does not sort it). */
  readonly metadata: VarDict;
  readonly parent?: string;
  readonly related: ReadonlyArray<readonly [string, string]>;
  readonly subject: string;
  readonly body: string;
  /** Seconds since the epoch, UTC. */
  readonly timestamp: number;
  readonly rootTree: string;
  readonly rootMeta: string;
}

const TYPE = '(a{sv}aya(say)sstayay)';

export function serializeCommit(c: Commit): Buffer {
  for (const [k] of c.metadata) {
    if (k.length === 0) throw new CanopyError('ERR_OBJECT_INVALID', 'commit metadata keys must not be empty');
  }
  if (!Number.isSafeInteger(c.timestamp) || c.timestamp < 0) {
    throw new CanopyError('ERR_INVALID_ARGUMENT', `invalid commit timestamp ${c.timestamp}`);
  }
  return serialize(TYPE, [
    c.metadata,
    c.parent ? checksumToBytes(c.parent) : new Uint8Array(0),
    c.related.map(([name, csum]) => [name, checksumToBytes(csum)]),
    c.subject,
    c.body,
    bswap64(BigInt(c.timestamp)),
    checksumToBytes(c.rootTree),
    checksumToBytes(c.rootMeta),
  ]);
}

/** Parses and validates a commit. Throws ERR_GVARIANT_* or ERR_OBJECT_INVALID. */
export function parseCommit(data: Uint8Array): Commit {
  const [metadata, parent, related, subject, body, ts, tree, meta] = parse(TYPE, data) as [
    VarDict, Uint8Array, [string, Uint8Array][], string, string, bigint, Uint8Array, Uint8Array,
  ];
  for (const [k] of metadata) {
    if (k.length === 0) throw new CanopyError('ERR_OBJECT_INVALID', 'commit metadata has an empty key');
  }
  const seconds = bswap64(ts);
  if (seconds > BigInt(Number.MAX_SAFE_INTEGER)) throw new CanopyError('ERR_OBJECT_INVALID', 'commit timestamp out of range');
  return {
    metadata,
    parent: parent.length === 0 ? undefined : checksumFromBytes(parent, 'commit parent'),
    related: related.map(([n, c]) => [n, checksumFromBytes(c, 'related object')] as const),
    subject,
    body,
    timestamp: Number(seconds),
    rootTree: checksumFromBytes(tree, 'commit root dirtree'),
    rootMeta: checksumFromBytes(meta, 'commit root dirmeta'),
  };
}

export function commitChecksum(c: Commit): string {
  return sha256Hex(serializeCommit(c));
}

/** What `ostree log` calls the content checksum: sha256(root dirtree ‖ root dirmeta). */
export function commitContentChecksum(c: Commit): string {
  return sha256Hex(checksumToBytes(c.rootTree), checksumToBytes(c.rootMeta));
}

/** A metadata value by key, or undefined. */
export function commitMetadataValue(c: Commit, key: string): Variant | undefined {
  for (const [k, v] of c.metadata) if (k === key) return v;
  return undefined;
}

/** The `version` metadata string, when there is one. */
export function commitVersion(c: Commit): string | undefined {
  const v = commitMetadataValue(c, 'version');
  return v && v.type === 's' ? (v.value as string) : undefined;
}
