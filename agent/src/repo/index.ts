/**
 * The repository on disk: what the rest of Canopy (and library users) may
 * use. Open or create a repository with {@link Repo}, read refs and resolve
 * revisions, commit a directory with {@link commitTree}, write it out with
 * {@link checkout}, verify with {@link fsck}, clean up with {@link prune},
 * publish with {@link generateSummary}; low-level writes go through a
 * {@link Transaction}.
 *
 * Error codes thrown here: ERR_REPO_INVALID, ERR_REPO_EXISTS,
 * ERR_REPO_MODE, ERR_OBJECT_NOT_FOUND, ERR_CHECKSUM_MISMATCH,
 * ERR_OBJECT_INVALID, ERR_REF_INVALID, ERR_REF_NOT_FOUND, ERR_FILE_TYPE,
 * ERR_FILE_CHANGED, ERR_UNSAFE_NAME, ERR_UNSAFE_PATH, ERR_PATH_NOT_FOUND,
 * ERR_CHECKOUT_EXISTS, ERR_CHECKOUT_CONFLICT, ERR_HARDLINK_FAILED,
 * ERR_XATTR, ERR_PERMISSION, ERR_IO, ERR_NO_SPACE (each function's TSDoc
 * says which).
 *
 * @module
 */
export { Repo, type InitOptions, type FileObject } from './repo';
export { KeyFile } from './keyfile';
export { readRef, writeRef, listRefs, refAliasTarget, resolveRev, fsyncDir, type RefEntry } from './refs';
export { Transaction, cleanStaleStaging, syncFilesystem, type WriteStats } from './transaction';
export { readTreeXattrs, readXattrsOf, applyXattrs } from './xattr-io';
export { commitTree, type CommitOptions, type CommitProgress, type CommitResult } from './commit-tree';
export { checkout, splitSubpath, CheckoutLimits, type CheckoutOptions, type CheckoutProgress, type CheckoutStats } from './checkout';
export {
  fsck, type FsckOptions, type FsckProgress, type FsckReport, type CorruptObject, type MissingObject, type PartialCommit, type BrokenRef,
} from './fsck';
export { prune, planPrune, type PruneOptions, type PruneResult, type PrunePlan } from './prune';
export {
  generateSummary, buildSummary, prepareSummary, writeSummaryFiles, listStaticDeltas, reindexStaticDeltas,
  type SummaryOptions, type SummaryResult, type StaticDeltaEntry,
} from './summary-writer';
export { reachableObjects, listObjects, listRootRefs, type ObjectRef, type ObjectSet } from './walk';
export { ObjectPool, type ObjectJob, type ObjectFailure } from './object-pool';
