/**
 * The puller: summary -> refs -> commit -> verify -> (delta hook) ->
 * missing objects -> refs. {@link pull} pulls from a configured remote over
 * HTTP(S) or file://, {@link pullLocal} from another repository on disk,
 * {@link importRemoteGpgKeys} fills a remote's keyring. The decisions are
 * pure functions in plan.ts; the executor is engine.ts.
 *
 * Error codes: ERR_REMOTE_NOT_FOUND, ERR_REF_NOT_FOUND, ERR_CONFIG_INVALID,
 * ERR_SIGNATURE_MISSING, ERR_SIGNATURE_INVALID, ERR_KEY_UNTRUSTED,
 * ERR_KEY_REVOKED, ERR_KEY_EXPIRED, ERR_REF_BINDING, ERR_DOWNGRADE,
 * ERR_CHECKSUM_MISMATCH, ERR_CHECKSUM_INVALID, ERR_OBJECT_INVALID,
 * ERR_GVARIANT_*, ERR_UNSAFE_NAME, ERR_FILE_TYPE, ERR_REPO_MODE,
 * ERR_HTTP_STATUS, ERR_NETWORK, ERR_TLS, ERR_BUDGET_EXCEEDED, ERR_ABORTED,
 * ERR_IO, ERR_NO_SPACE, ERR_PERMISSION (each function's TSDoc says which).
 *
 * @module
 */
export { pull, transportOptionsFor } from './pull';
export { pullLocal, LocalObjectSource, type PullLocalOptions } from './pull-local';
export { importRemoteGpgKeys, dearmor, splitKeys } from './remote-keys';
export { loadRemoteTrust, remoteKeyFiles, trustVerifier, type RemoteTrust } from './remote-trust';
export { fetchSummary, type SummaryFetch } from './summary-fetch';
export { Fetcher, joinUrl, type FetcherOptions, type FetchSpec, type Fetched } from './fetcher';
export {
  parseRefRequest, needsSummary, summaryRef, parseRemoteRefFile, checkRefBinding, checkNotDowngrade, scanDirTree,
  isTransientStatus, backoffMs, parseContentRange, type RefRequest, type WantedObject,
} from './plan';
export { verifyArchiveBuffer, verifyArchiveFile, verifyPlainContent, checkStorable } from './content-verify';
export type {
  PullOptions, PullCommonOptions, PullProgress, PullResult, PulledRef, PullObjectWriter, DeltaSource, DeltaRequest, DeltaOutcome,
  CommitVerifier, TrustSettings,
} from './types';
