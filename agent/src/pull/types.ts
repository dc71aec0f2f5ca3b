/**
 * The puller's public types: options, progress, result, and the seam for
 * static deltas ({@link DeltaSource}).
 */
import type { FileHeader, ObjectType, Summary } from '../objects/index';
import type { Repo } from '../repo/index';
import type { TrustSettings } from '../sign/index';
import type { HttpClient, TransportOptions } from '../transport/index';

/** A snapshot of a running pull, for progress bars and reports. */
export interface PullProgress {
  readonly phase: 'summary' | 'commits' | 'objects' | 'finishing';
  /** Objects fetched and stored so far. */
  readonly objectsDone: number;
  /** Objects known to be needed so far (grows while dirtrees are read). */
  readonly objectsTotal: number;
  readonly metadataDone: number;
  readonly contentDone: number;
  /** Body bytes received. */
  readonly bytes: number;
  readonly requests: number;
  readonly elapsedMs: number;
  readonly bytesPerSecond: number;
  /** Estimate from the object rate; undefined until there is one. */
  readonly etaSeconds?: number;
}

/** Options common to {@link pull} and {@link pullLocal}. */
export interface PullCommonOptions {
  /** Parent commits to fetch as well: 0 (default) none, -1 all. */
  depth?: number;
  /** Fetch and verify commits only; they stay partial (ostree --commit-metadata-only). */
  commitMetadataOnly?: boolean;
  /** Allow moving a ref to an older commit (default: refuse, ERR_DOWNGRADE). */
  allowDowngrade?: boolean;
  /** Objects fetched and processed at the same time (default 8). */
  concurrency?: number;
  /** Refuse to fetch more objects than this (ERR_BUDGET_EXCEEDED). */
  maxObjects?: number;
  /** Refuse to receive more body bytes than this (ERR_BUDGET_EXCEEDED). */
  maxBytes?: number;
  /** Cancels the pull (ERR_ABORTED); what was stored stays, no ref moves. */
  signal?: AbortSignal;
  onProgress?: (p: PullProgress) => void;
  /** Stored objects are made durable and moved into `objects/` at least this often (default 5000 ms), so a killed pull resumes. */
  checkpointIntervalMs?: number;
  /** Largest uncompressed file object accepted (default 8 GiB). */
  maxContentSize?: number;
  /** Object bodies larger than this are spooled to disk instead of memory (default 16 MiB). */
  inMemoryLimit?: number;
  /**
   * Worker threads that inflate, verify and write fetched file objects
   * while the main thread keeps fetching (default 1, or 2 with four or more
   * CPUs; 0: all on the main thread).
   */
  storeWorkers?: number;
}

export interface PullOptions extends PullCommonOptions {
  /** Skip static deltas even when a {@link DeltaSource} is given. */
  disableStaticDeltas?: boolean;
  /** Tried for each target commit before objects are fetched one by one. */
  deltaSource?: DeltaSource;
  /** Attempts per request after the first, for transient failures (default 5). */
  retries?: number;
  /** First backoff step in ms (default 250); doubles each attempt, with full jitter. */
  retryBaseMs?: number;
  /** Longest backoff in ms (default 10 000). */
  retryMaxMs?: number;
  /** Use this client instead of building one from the remote's config (tests, custom transports). */
  httpClient?: HttpClient;
  /** Extra transport settings (timeouts, connections); TLS and proxy come from the remote's config. */
  transport?: Partial<TransportOptions>;
  /** Directories of `*.gpg` keyrings trusted for every remote (e.g. /usr/share/ostree/trusted.gpg.d). */
  globalKeyringDirs?: readonly string[];
  /** Random numbers for jitter (tests). */
  random?: () => number;
  /** Clock in ms (tests). */
  now?: () => number;
}

export interface PulledRef {
  readonly ref: string;
  readonly commit: string;
  /** The commit the ref pointed to before, if any. */
  readonly previous?: string;
  readonly changed: boolean;
}

export interface PullResult {
  readonly remote?: string;
  readonly refs: PulledRef[];
  /** Commits pulled without a ref (bare checksums). */
  readonly commits: string[];
  readonly metadataFetched: number;
  readonly contentFetched: number;
  readonly bytesTransferred: number;
  readonly requests: number;
  /** Objects newly stored in the repository. */
  readonly objectsWritten: number;
  readonly durationMs: number;
  /** True when every target commit passed the trust policy with signatures checked. */
  readonly verified: boolean;
  /** Target commits whose objects came through a static delta. */
  readonly deltas: string[];
}

/**
 * Writing objects during a pull (what a delta applier gets). Writes are
 * asynchronous; an object counts as present (`has`) from the call on. A
 * caller that does not await `writeMetadata` loses nothing: the pull waits
 * for every write and fails with the first error before any ref moves.
 */
export interface PullObjectWriter {
  has(type: ObjectType, checksum: string): boolean;
  /** Stores a metadata object whose sha256 the caller checked. */
  writeMetadata(type: ObjectType, checksum: string, bytes: Uint8Array): Promise<void> | void;
  /** Stores a file object whose checksum the caller checked over header and content. */
  writeContent(checksum: string, header: FileHeader, content: Uint8Array): Promise<void>;
}

/** What the puller hands a {@link DeltaSource} for one target commit. */
export interface DeltaRequest {
  /** The repository pulled into (bare family: deltas read old objects from it). */
  readonly repo: Repo;
  readonly ref?: string;
  /** The target commit. */
  readonly to: string;
  /** A complete local commit of the same ref to start from, if any. */
  readonly from?: string;
  readonly summary?: Summary;
  /** GETs a path under the remote's content URL through the pull's retries, budget and counters; undefined on 404 when optional. */
  fetch(path: string, opts?: { optional?: boolean; maxBytes?: number }): Promise<Buffer | undefined>;
  /**
   * Applies the remote's trust policy, ref binding and rollback check to
   * the commit the delta carries, then stores it (with its detached
   * metadata) as partial. Must be called before any other object is
   * written. Throws as the object pull does.
   */
  acceptCommit(commitBytes: Uint8Array, detachedMetadata: Uint8Array | undefined): Promise<void>;
  readonly writer: PullObjectWriter;
  readonly signal?: AbortSignal;
}

export type DeltaOutcome =
  | { readonly applied: true }
  | { readonly applied: false; readonly reason: string };

/**
 * The static-delta strategy hook. The puller calls {@link tryApply} for a
 * target commit it does not have; when it reports `applied`, the puller
 * still walks the commit's tree and fetches anything the delta did not
 * produce, so a partial delta is safe. When it reports not applied, the
 * pull falls back to objects.
 */
export interface DeltaSource {
  readonly name: string;
  tryApply(req: DeltaRequest): Promise<DeltaOutcome>;
}

/** How a target commit is checked before anything of it is stored. */
export interface CommitVerifier {
  /** Applies the trust policy; resolves true when signatures were checked, false when verification is off. */
  verify(what: string, data: Uint8Array, detachedMetadata: Uint8Array | undefined): Promise<boolean>;
}

export type { TrustSettings };
