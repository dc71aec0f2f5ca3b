/**
 * Canopy as a library: OSTree repositories in TypeScript, byte-compatible
 * with libOSTree. The same code the `canopy` CLI runs.
 *
 * - Repositories: {@link Repo} (init, open, read objects), refs
 *   ({@link readRef}, {@link writeRef}, {@link listRefs}, {@link resolveRev}),
 *   {@link commitTree}, {@link checkout}, {@link fsck}, {@link prune},
 *   {@link generateSummary}.
 * - Objects: pure codecs for commits, dirtrees, dirmetas, file headers and
 *   the summary (`parseCommit`, `serializeCommit`, …).
 * - GVariant: the binary codec and the text format, under the `gvariant`
 *   namespace (`gvariant.parse`, `gvariant.parseVariantText`, …).
 * - Errors: every function throws {@link CanopyError} with a stable `code`
 *   from {@link ErrorCodes}; branch on the code, not the message.
 *
 * @packageDocumentation
 */
export { CanopyError, ErrorCodes, isCanopyError, type ErrorCode, type ErrorDetails } from './core/errors';
export { isChecksum, assertChecksum, sha256Hex } from './core/bytes';
export { isValidRef, parseRefspec } from './core/names';
export { Limits } from './core/limits';
export * from './objects/index';
export * from './repo/index';
export * as gvariant from './gvariant/index';
