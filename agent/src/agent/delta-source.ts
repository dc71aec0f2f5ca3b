/**
 * The puller's static-delta hook for the device (pull's {@link DeltaSource}):
 * for a target commit, fetch the superblock of the delta from the local
 * commit of the same ref (or the scratch delta when there is none), check
 * it against the commit the pull is after (delta/open-delta), hand the
 * commit it carries to the pull's trust policy (`acceptCommit`), then apply
 * its parts (one repository transaction per part), fetching each part
 * through the pull's fetcher (its retries, budget and counters). No
 * superblock on the server: not applied, and the pull fetches objects. The
 * puller walks the tree afterwards and fetches whatever the delta did not
 * produce (fallback objects), so a partial delta is safe.
 */
import { DEFAULT_DELTA_LIMITS, applyDeltaParts, deltaPartPath, deltaSuperblockPath, openDelta } from '../delta/index';
import type { DeltaOutcome, DeltaRequest, DeltaSource } from '../pull/index';
import type { Repo } from '../repo/index';
import { collectGarbage } from './memory';

/** Applied-delta statistics, for the agent's log. */
export interface DeltaStats {
  name: string;
  partsApplied: number;
  partsSkipped: number;
  bytesRead: number;
}

/**
 * A {@link DeltaSource} writing into `repo` (the pull's target repository,
 * bare or bare-user-only).
 */
export function httpDeltaSource(repo: Repo, onApplied?: (s: DeltaStats) => void): DeltaSource {
  return {
    name: 'static-delta',
    async tryApply(req: DeltaRequest): Promise<DeltaOutcome> {
      const from = req.from ?? null;
      const bytes = await req.fetch(deltaSuperblockPath(from, req.to), { optional: true, maxBytes: DEFAULT_DELTA_LIMITS.maxSuperblockSize });
      if (!bytes) return { applied: false, reason: `the server has no delta ${from ? `from ${from}` : 'from scratch'}` };
      const delta = openDelta(bytes, { to: req.to, from });
      const to = req.to;
      // A delta generated before the commit was signed carries no signatures; they are beside the commit.
      const meta = delta.commitMeta ?? await req.fetch(`objects/${to.slice(0, 2)}/${to.slice(2)}.commitmeta`, { optional: true });
      await req.acceptCommit(delta.commit, meta);
      // Parts are committed to the repository one transaction each (not through the pull's staging
      // writer): the puller reads the dirtrees a delta produced from the repository when it walks the
      // tree afterwards, and an interrupted pull keeps every finished part.
      const r = await applyDeltaParts(repo, delta, {
        signal: req.signal,
        // A decompressed part is tens of MB: let the last one go before the next is decoded.
        onProgress: () => collectGarbage(),
        parts: {
          async getPart(index, header) {
            const part = await req.fetch(deltaPartPath(from, to, index), { maxBytes: header.size });
            if (!part) throw new Error(`delta part ${index} is missing`);
            return part;
          },
        },
      });
      onApplied?.({ name: delta.name, partsApplied: r.partsApplied, partsSkipped: r.partsSkipped, bytesRead: r.bytesRead });
      return { applied: true };
    },
  };
}
