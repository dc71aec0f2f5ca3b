/**
 * `canopy summary -u --sign-key=…`: the summary regenerated as `ostree
 * summary -u` does, signed, and published together with its `summary.sig`
 * (written side by side in a private directory, renamed into place, equal
 * mtimes), so a device never sees a summary with the signature of another.
 */
import type { SigningKeys } from '../channel/index';
import { prepareSummary, writeSummaryFiles, type Repo, type SummaryOptions, type SummaryResult } from '../repo/index';
import { serializeDetachedMetadata } from '../sign/index';
import { addDetachedSignatures, hasSigningKeys, type SignatureOutcome } from './detached-signing';

export interface SignedSummary extends SummaryResult {
  /** Signatures in `summary.sig` (empty when the summary was published unsigned). */
  outcomes: SignatureOutcome[];
}

/**
 * Regenerates the summary (and the delta indexes) and publishes it, signed
 * by every key in `keys`; without keys it is published unsigned and a stale
 * `summary.sig` is removed.
 *
 * @throws as prepareSummary, addDetachedSignatures and writeSummaryFiles
 *   (ERR_OBJECT_NOT_FOUND for a ref whose commit is missing, ERR_INVALID_ARGUMENT
 *   for a bad key, ERR_IO / ERR_NO_SPACE).
 */
export async function publishSummary(repo: Repo, keys: SigningKeys, opts: SummaryOptions & { signTime?: Date } = {}): Promise<SignedSummary> {
  const result = prepareSummary(repo, opts);
  if (!hasSigningKeys(keys)) {
    writeSummaryFiles(repo, result.bytes);
    return { ...result, outcomes: [] };
  }
  const { metadata, outcomes } = await addDetachedSignatures([], result.bytes, keys, { now: opts.signTime });
  writeSummaryFiles(repo, result.bytes, serializeDetachedMetadata(metadata));
  return { ...result, outcomes };
}
