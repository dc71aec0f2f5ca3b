/**
 * `pullLocal(src, dst, refs)`: copies commits from another repository on
 * the same machine (any mode into any mode), as `ostree pull-local` does.
 * Objects are read from the source repository and checked exactly as
 * fetched ones are (hash, structure, what the target mode can store). The
 * source is trusted for signatures unless `verify` settings are given;
 * refs go to `refs/heads/<ref>`, or to `refs/remotes/<remote>/<ref>` with
 * `remote`.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CanopyError } from '../core/errors';
import { ObjectType, type Xattr } from '../objects/index';
import { readRef, readTreeXattrs, Repo } from '../repo/index';
import { throwIfAborted } from '../transport/index';
import { runPull, type EngineTarget } from './engine';
import type { ContentItem, ObjectSource } from './object-source';
import { parseRefRequest } from './plan';
import { PullWriter } from './pull-writer';
import { trustVerifier } from './remote-trust';
import type { PullCommonOptions, PullResult, TrustSettings } from './types';

/** Reads objects from a repository on disk. */
export class LocalObjectSource implements ObjectSource {
  private xattrs: Map<string, Xattr[]> | undefined;
  private reads = 0;
  private bytes = 0;

  constructor(private readonly src: Repo, private readonly signal?: AbortSignal) {}

  get name(): string {
    return this.src.path;
  }

  async fetchCommitMeta(commit: string): Promise<Buffer | undefined> {
    return this.src.readCommitMeta(commit);
  }

  async fetchMetadata(type: ObjectType, checksum: string, maxBytes: number): Promise<Buffer> {
    // readMetadataBytes checks the hash; the engine checks it again, as for any source.
    const b = this.src.readMetadataBytes(type, checksum);
    if (b.length > maxBytes) throw new CanopyError('ERR_OBJECT_INVALID', `${checksum} is larger than ${maxBytes} bytes`, { checksum });
    this.count(b.length);
    return b;
  }

  async fetchContent(checksum: string): Promise<ContentItem> {
    if (this.src.mode === 'archive') {
      const data = readFileSync(this.src.objectPath(checksum, ObjectType.FILE));
      this.count(data.length);
      return { kind: 'archive', body: { data, size: data.length } };
    }
    const obj = this.src.readFileObject(checksum, false);
    this.count(obj.content.length);
    let header = obj.header;
    if (this.src.mode === 'bare') {
      // One getfattr over all objects, the first time a bare object is read.
      this.xattrs ??= readTreeXattrs(join(this.src.path, 'objects'));
      const x = this.xattrs.get(this.src.objectPath(checksum, ObjectType.FILE));
      if (x?.length) header = { ...header, xattrs: x };
    }
    return { kind: 'plain', header, content: obj.content };
  }

  private count(n: number): void {
    throwIfAborted(this.signal, `pull from ${this.src.path}`);
    this.reads++;
    this.bytes += n;
  }

  stats(): { requests: number; bytes: number } {
    return { requests: this.reads, bytes: this.bytes };
  }
}

export interface PullLocalOptions extends PullCommonOptions {
  /** Write `refs/remotes/<remote>/<ref>` instead of `refs/heads/<ref>`. */
  remote?: string;
  /** Check commits against these settings (default: the source is trusted). */
  verify?: TrustSettings;
  now?: () => number;
}

/**
 * Copies `refs` (`REF`, `REF@COMMIT` or a commit checksum) from the
 * repository at `srcPath` into `dst`.
 *
 * @throws ERR_REPO_INVALID / ERR_REPO_MODE (source), ERR_REF_NOT_FOUND,
 *   ERR_OBJECT_NOT_FOUND (the source lacks an object), the object and
 *   storage codes of {@link pull}, and the trust codes when `verify` is on.
 */
export async function pullLocal(srcPath: string, dst: Repo, refs: readonly string[], opts: PullLocalOptions = {}): Promise<PullResult> {
  const now = opts.now ?? Date.now;
  const started = now();
  const src = Repo.open(srcPath);
  if (src.path === dst.path) throw new CanopyError('ERR_INVALID_ARGUMENT', 'source and destination are the same repository', { path: src.path });
  if (refs.length === 0) throw new CanopyError('ERR_INVALID_ARGUMENT', 'pull-local needs at least one ref', {});
  const targets: EngineTarget[] = refs.map((spec) => {
    const r = parseRefRequest(spec);
    if (r.commit !== undefined) return { ref: r.ref, commit: r.commit };
    const c = readRef(src, r.ref!);
    if (!c) throw new CanopyError('ERR_REF_NOT_FOUND', `${src.path} has no ref ${JSON.stringify(r.ref)}`, { ref: r.ref! });
    return { ref: r.ref, commit: c };
  });
  const source = new LocalObjectSource(src, opts.signal);
  const writer = new PullWriter(dst, opts.checkpointIntervalMs ?? 5000, now);
  const verifier = opts.verify ? trustVerifier(opts.verify) : { verify: async () => false };
  const r = await runPull(dst, source, targets, writer, { ...opts, verifier, cancel: () => undefined, now });
  const s = source.stats();
  return { remote: opts.remote, ...r, bytesTransferred: s.bytes, requests: s.requests, durationMs: now() - started };
}
