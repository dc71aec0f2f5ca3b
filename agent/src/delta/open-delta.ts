/**
 * Opening a static delta for application: the superblock is parsed
 * (bounded) and checked against the commit the caller already trusts
 * *before* any part is fetched or used.
 *
 * The trust chain: the caller knows the target commit checksum from
 * something signed (a signed summary or ref, or a signature check of the
 * commit itself). The superblock must name that commit as `to`, and the
 * commit object it embeds must hash to it. The commit's signatures travel
 * in the superblock metadata (`<delta dir>/commitmeta`, the detached
 * metadata at generation time); they are handed out here as bytes for the
 * caller to check with the trust policy (`verifyTrust` in sign/). Part
 * headers are not covered by any signature, so every part is checked
 * against its header's sha256, and every object it produces is re-hashed
 * against its name.
 */
import { CanopyError } from '../core/errors';
import { assertChecksum } from '../core/bytes';
import { serialize } from '../gvariant/index';
import { ObjectType } from '../objects/index';
import { resolveDeltaLimits, type DeltaLimits } from './apply-limits';
import { commitMetaKey, deltaDir, deltaName } from './delta-path';
import { parseSuperblock, superblockCommitMeta, type DeltaFallback, type DeltaSuperblock } from './superblock';

/** ASCII `OSTSGNDT`: the start of a signed (offline-only) superblock. */
const SIGNED_MAGIC = Buffer.from('OSTSGNDT', 'latin1');

/** A superblock that passed {@link openDelta}. */
export interface OpenedDelta {
  readonly superblock: DeltaSuperblock;
  /** `FROM-TO` or `TO`. */
  readonly name: string;
  readonly from: string | null;
  readonly to: string;
  /** The target commit object's bytes (sha256 = `to`). */
  readonly commit: Uint8Array;
  /** The target's detached metadata carried by the delta (signatures), serialized `a{sv}`; undefined when absent. */
  readonly commitMeta: Uint8Array | undefined;
  /** Objects to fetch as ordinary objects. */
  readonly fallbacks: readonly DeltaFallback[];
  /** Sum of the part files' sizes. */
  readonly partsSize: number;
  /** Sum of the parts' declared uncompressed object sizes. */
  readonly partsUsize: number;
}

export interface OpenDeltaOptions {
  /**
   * The verified target commit checksum; the superblock must name it.
   * null checks the superblock only for consistency (its embedded commit
   * hashes to its own `to`): for offline use where the caller verifies the
   * commit's signatures itself.
   */
  to: string | null;
  /** When given, the superblock's from-commit must equal it (null: a scratch delta). */
  from?: string | null;
  limits?: Partial<DeltaLimits>;
}

function invalid(why: string, details: Record<string, string | number> = {}): CanopyError {
  return new CanopyError('ERR_DELTA_INVALID', `delta superblock: ${why}`, details);
}

/** True when `bytes` is a signed superblock wrapper (`ostree static-delta generate --sign`). */
export function isSignedSuperblock(bytes: Uint8Array): boolean {
  return bytes.length >= 8 && SIGNED_MAGIC.equals(Buffer.from(bytes.buffer, bytes.byteOffset, 8));
}

/**
 * Parses a superblock and checks it against the trusted target commit and
 * the size limits.
 *
 * @throws CanopyError ERR_DELTA_INVALID when `to` or `from` differ from what
 *   the caller expects, or a declared size or count passes a limit, or a
 *   fallback is not a file object; ERR_CHECKSUM_MISMATCH when the embedded
 *   commit does not hash to `to`; ERR_DELTA_UNSUPPORTED for a signed
 *   superblock wrapper or a part version other than 0; ERR_GVARIANT_* for
 *   malformed bytes (including the embedded detached metadata);
 *   ERR_CHECKSUM_INVALID for a malformed expected checksum.
 */
export function openDelta(bytes: Uint8Array, opts: OpenDeltaOptions): OpenedDelta {
  const limits = resolveDeltaLimits(opts.limits);
  if (opts.to !== null) assertChecksum(opts.to, 'expected delta target');
  if (opts.from) assertChecksum(opts.from, 'expected delta source');
  if (bytes.length > limits.maxSuperblockSize) {
    throw invalid(`${bytes.length} bytes is more than the ${limits.maxSuperblockSize} allowed`, { size: bytes.length, limit: limits.maxSuperblockSize });
  }
  if (isSignedSuperblock(bytes)) {
    throw new CanopyError('ERR_DELTA_UNSUPPORTED', 'delta superblock: signed superblocks (OSTSGNDT) are not supported; the target commit carries the signatures');
  }
  const sb = parseSuperblock(bytes, Math.max(1, bytes.length));
  if (opts.to !== null && sb.to !== opts.to) {
    throw invalid(`the delta targets commit ${sb.to}, not the verified commit ${opts.to}`, { to: sb.to, expected: opts.to });
  }
  if (opts.from !== undefined && sb.from !== opts.from) {
    throw invalid(`the delta starts from ${sb.from ?? 'nothing (scratch)'}, expected ${opts.from ?? 'nothing (scratch)'}`, { from: sb.from ?? '', expected: opts.from ?? '' });
  }
  if (sb.parts.length > limits.maxParts) throw invalid(`${sb.parts.length} parts is more than the ${limits.maxParts} allowed`, { parts: sb.parts.length });
  let partsSize = 0;
  let partsUsize = 0;
  sb.parts.forEach((p, i) => {
    if (p.size > limits.maxPartFileSize) throw invalid(`part ${i} declares ${p.size} bytes, more than the ${limits.maxPartFileSize} allowed`, { part: i, size: p.size });
    if (p.usize > limits.maxPartObjectsSize) throw invalid(`part ${i} declares ${p.usize} uncompressed bytes, more than the ${limits.maxPartObjectsSize} allowed`, { part: i, usize: p.usize });
    partsSize += p.size;
    partsUsize += p.usize;
  });
  let fallbackUsize = 0;
  for (const f of sb.fallbacks) {
    if (f.type !== ObjectType.FILE) throw invalid(`fallback ${f.checksum} has object type ${f.type}; only file objects are fetched as fallbacks`, { checksum: f.checksum });
    fallbackUsize += f.usize;
  }
  if (partsUsize + fallbackUsize > limits.maxTotalSize) {
    throw invalid(`the delta declares ${partsUsize + fallbackUsize} bytes of objects, more than the ${limits.maxTotalSize} allowed`, { total: partsUsize + fallbackUsize });
  }
  const meta = superblockCommitMeta(sb, commitMetaKey(sb.from, sb.to));
  return {
    superblock: sb,
    name: deltaName(sb.from, sb.to),
    from: sb.from,
    to: sb.to,
    commit: sb.commit,
    commitMeta: meta === undefined ? undefined : Uint8Array.from(serialize('a{sv}', meta)),
    fallbacks: sb.fallbacks,
    partsSize,
    partsUsize,
  };
}

/** The directory of the delta relative to a repository (`deltas/…`). */
export function openedDeltaDir(d: OpenedDelta): string {
  return deltaDir(d.from, d.to);
}
