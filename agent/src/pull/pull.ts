/**
 * `pull(repo, remote, refs)`: the remote side of a pull. Reads the remote's
 * config and keys, builds the transport (or uses the one given), resolves
 * refs (from the summary, or `refs/heads/<ref>` when the server has no
 * summary; `ref@commit` pins a commit and needs neither), then hands the
 * target commits to the engine (engine.ts), trying the static-delta hook
 * first when one is given.
 */
import { setMaxListeners } from 'node:events';
import { availableParallelism } from 'node:os';
import { CanopyError } from '../core/errors';
import { Limits } from '../core/limits';
import type { Summary } from '../objects/index';
import type { Repo } from '../repo/index';
import { getRemote, type RemoteConfig } from '../repo/remotes';
import { createTransport, type TransportOptions } from '../transport/index';
import { runPull, type DeltaHook, type EngineTarget } from './engine';
import { Fetcher } from './fetcher';
import { RemoteObjectSource } from './object-source';
import { needsSummary, parseRefRequest, parseRemoteRefFile, summaryRef, type RefRequest } from './plan';
import { PullWriter } from './pull-writer';
import { loadRemoteTrust, trustVerifier } from './remote-trust';
import { fetchSummary } from './summary-fetch';
import type { DeltaSource, PullOptions, PullResult } from './types';

/** One store worker, two with four or more CPUs (the main thread needs one for HTTP). */
function defaultStoreWorkers(): number {
  return availableParallelism() >= 4 ? 2 : 1;
}

/** The transport settings a remote's config asks for. */
export function transportOptionsFor(remote: RemoteConfig): TransportOptions {
  return {
    caPath: remote.tlsCaPath,
    clientCertPath: remote.tlsClientCertPath,
    clientKeyPath: remote.tlsClientKeyPath,
    tlsPermissive: remote.tlsPermissive,
    pinnedSpki: remote.tlsPinnedSpki,
    proxy: remote.proxy,
  };
}

async function resolveTargets(reqs: readonly RefRequest[], summary: Summary | undefined, fetcher: Fetcher, remote: string): Promise<EngineTarget[]> {
  const out: EngineTarget[] = [];
  for (const r of reqs) {
    if (r.commit !== undefined) {
      const s = summary && r.ref !== undefined ? summaryRef(summary, r.ref) : undefined;
      out.push({ ref: r.ref, commit: r.commit, commitSize: s?.commit === r.commit ? s.commitSize : undefined });
      continue;
    }
    const ref = r.ref!;
    if (summary) {
      const s = summaryRef(summary, ref);
      if (!s) throw new CanopyError('ERR_REF_NOT_FOUND', `remote ${remote} has no ref ${JSON.stringify(ref)} (not in its summary)`, { remote, ref });
      out.push({ ref, commit: s.commit, commitSize: s.commitSize });
      continue;
    }
    const res = await fetcher.fetch({ base: 'url', path: `refs/heads/${ref}`, what: `ref ${ref}`, optional: true, maxBytes: 1024 });
    if (!res) throw new CanopyError('ERR_REF_NOT_FOUND', `remote ${remote} has no ref ${JSON.stringify(ref)}`, { remote, ref });
    out.push({ ref, commit: parseRemoteRefFile(res.body!.data!.toString('latin1'), ref) });
  }
  return out;
}

function deltaHook(source: DeltaSource, fetcher: Fetcher, summary: Summary | undefined, signal: AbortSignal): DeltaHook {
  return async (target, from, accept, writer) => {
    const outcome = await source.tryApply({
      repo: writer.repo,
      ref: target.ref,
      to: target.commit,
      from,
      summary,
      async fetch(path, o = {}) {
        const r = await fetcher.fetch({ base: 'content', path, what: path, optional: o.optional, maxBytes: o.maxBytes ?? Limits.maxMetadataSize, object: true });
        return r?.body?.data;
      },
      acceptCommit: accept,
      writer,
      signal,
    });
    return outcome.applied;
  };
}

/**
 * Pulls refs of a configured remote into `repo` and moves
 * `refs/remotes/<remote>/<ref>` (refs given as `REF`, `REF@COMMIT`, or a
 * bare commit checksum, which moves no ref; none given: the remote's
 * `branches`).
 *
 * @throws ERR_REMOTE_NOT_FOUND, ERR_CONFIG_INVALID (remote config, keys,
 *   TLS files); ERR_REF_NOT_FOUND (the remote lacks a ref);
 *   ERR_SIGNATURE_MISSING, ERR_SIGNATURE_INVALID, ERR_KEY_UNTRUSTED,
 *   ERR_KEY_REVOKED, ERR_KEY_EXPIRED (trust policy, commit or summary);
 *   ERR_REF_BINDING; ERR_DOWNGRADE; ERR_CHECKSUM_MISMATCH, ERR_OBJECT_INVALID,
 *   ERR_GVARIANT_*, ERR_UNSAFE_NAME, ERR_FILE_TYPE (bad objects);
 *   ERR_REPO_MODE (an object a bare-user-only repository cannot hold, or a
 *   non-archive remote); ERR_HTTP_STATUS, ERR_NETWORK, ERR_TLS (transport,
 *   after retries); ERR_BUDGET_EXCEEDED; ERR_ABORTED; ERR_IO, ERR_NO_SPACE,
 *   ERR_PERMISSION (local storage). On any failure no ref moves; complete
 *   objects already stored stay, and a rerun does not fetch them again.
 */
export async function pull(repo: Repo, remoteName: string, refs: readonly string[], opts: PullOptions = {}): Promise<PullResult> {
  const now = opts.now ?? Date.now;
  const started = now();
  const remote = getRemote(repo, remoteName);
  const specs = refs.length ? refs : remote.branches;
  if (specs.length === 0) throw new CanopyError('ERR_INVALID_ARGUMENT', `no ref to pull: none given and remote ${remoteName} has no branches configured`, { remote: remoteName });
  const reqs = specs.map(parseRefRequest);
  const trust = await loadRemoteTrust(repo, remote, opts.globalKeyringDirs);

  const ctl = new AbortController();
  // Every in-flight request listens on this signal.
  setMaxListeners(0, ctl.signal);
  const onAbort = (): void => ctl.abort(opts.signal?.reason);
  if (opts.signal?.aborted) onAbort();
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  const ownClient = opts.httpClient === undefined;
  const client = opts.httpClient ?? createTransport({ ...transportOptionsFor(remote), connections: opts.concurrency ?? 8, ...opts.transport });
  const writer = new PullWriter(repo, opts.checkpointIntervalMs ?? 5000, now, opts.storeWorkers ?? defaultStoreWorkers());
  if (!opts.commitMetadataOnly) writer.warm();
  let handedOver = false;
  try {
    const inMemoryLimit = opts.inMemoryLimit ?? 16 << 20;
    const maxContent = opts.maxContentSize ?? 8 * 2 ** 30;
    const fetcher = new Fetcher(client, {
      url: remote.url,
      contentUrl: remote.contentUrl,
      retries: opts.retries ?? 5,
      retryBaseMs: opts.retryBaseMs ?? 250,
      retryMaxMs: opts.retryMaxMs ?? 10_000,
      maxBytes: opts.maxBytes,
      maxObjects: opts.maxObjects,
      inMemoryLimit,
      spoolDir: writer.spoolDir,
      signal: ctl.signal,
      random: opts.random ?? Math.random,
    });
    const progress = (phase: 'summary'): void => opts.onProgress?.({
      phase, objectsDone: 0, objectsTotal: 0, metadataDone: 0, contentDone: 0, bytes: fetcher.bytes, requests: fetcher.requests,
      elapsedMs: now() - started, bytesPerSecond: 0,
    });
    let summary: Summary | undefined;
    if (needsSummary(reqs)) {
      progress('summary');
      summary = (await fetchSummary(repo, remote.name, fetcher, trust.summary))?.summary;
    }
    const targets = await resolveTargets(reqs, summary, fetcher, remote.name);
    // Deflate may grow incompressible data a little; the header adds at most its own limit.
    const source = new RemoteObjectSource(remote.name, fetcher, Math.ceil(maxContent * 1.01) + Limits.maxFileHeaderSize + 65536);
    const useDeltas = opts.deltaSource !== undefined && !opts.disableStaticDeltas && !opts.commitMetadataOnly && repo.mode !== 'archive';
    handedOver = true;
    const r = await runPull(repo, source, targets, writer, {
      ...opts,
      remote: remote.name,
      verifier: trustVerifier(trust.commit),
      collectionId: remote.collectionId,
      delta: useDeltas ? deltaHook(opts.deltaSource!, fetcher, summary, ctl.signal) : undefined,
      cancel: () => ctl.abort(new Error('another request of the pull failed')),
      now,
    });
    return {
      remote: remote.name, ...r, bytesTransferred: fetcher.bytes, requests: fetcher.requests, durationMs: now() - started,
    };
  } finally {
    if (!handedOver) await writer.abort();
    opts.signal?.removeEventListener('abort', onAbort);
    if (ownClient) await client.close().catch(() => undefined);
  }
}
