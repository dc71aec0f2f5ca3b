/**
 * Fetching a remote's summary as OSTree does: `summary.sig` first, with
 * the cached copy's validators (`If-None-Match`, `If-Modified-Since`); when
 * the signature is unchanged the cached summary is reused without asking
 * for it, else `summary` is fetched. When there is no cached signature to
 * compare (a remote without one, or the first pull) the summary is needed
 * either way, and it is asked for together with `summary.sig` (with its
 * own validators): one round trip instead of two. The summary is checked with the
 * remote's summary policy (`gpg-verify-summary`, `sign-verify-summary`)
 * and parsed (normal form, sorted refs); a cached copy that fails is
 * fetched again once without validators.
 *
 * Cache: `tmp/cache/summaries/<remote>` and `<remote>.sig` hold the bytes
 * (the files OSTree uses; their mtime is set to the server's
 * Last-Modified), and `<remote>.canopy-validators.json` holds the ETags
 * with the sha256 of the bytes they belong to, so a copy another tool
 * rewrote is never paired with a stale ETag.
 */
import { mkdirSync, readFileSync, renameSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sha256Hex } from '../core/bytes';
import { CanopyError, isCanopyError } from '../core/errors';
import { Limits } from '../core/limits';
import { parseSummary, summaryLookup, type Summary } from '../objects/index';
import type { Repo } from '../repo/index';
import { MAX_DETACHED_METADATA_SIZE, verifyTrust, type TrustSettings } from '../sign/index';
import type { Fetcher } from './fetcher';

export interface SummaryFetch {
  readonly summary: Summary;
  readonly bytes: Buffer;
  readonly signature?: Buffer;
  /** True when the summary bytes came from the local cache. */
  readonly fromCache: boolean;
  /** True when signatures were checked (the summary policy is on). */
  readonly verified: boolean;
}

interface Validator {
  etag?: string;
  lastModified?: string;
  sha256: string;
}

interface CacheEntry {
  bytes: Buffer;
  validator?: Validator;
}

interface Cache {
  summary?: CacheEntry;
  sig?: CacheEntry;
}

function cacheDir(repo: Repo): string {
  return join(repo.tmpDir, 'cache', 'summaries');
}

function readCache(repo: Repo, remote: string): Cache {
  const dir = cacheDir(repo);
  const read = (p: string): Buffer | undefined => {
    try {
      return readFileSync(p);
    } catch {
      return undefined;
    }
  };
  let validators: { summary?: Validator; sig?: Validator } = {};
  try {
    validators = JSON.parse(readFileSync(join(dir, `${remote}.canopy-validators.json`), 'utf8'));
  } catch {
    // no validators: conditional requests fall back to the bytes' mtime-free form (none)
  }
  const entry = (bytes: Buffer | undefined, v: Validator | undefined): CacheEntry | undefined =>
    bytes ? { bytes, validator: v && v.sha256 === sha256Hex(bytes) ? v : undefined } : undefined;
  return { summary: entry(read(join(dir, remote)), validators.summary), sig: entry(read(join(dir, `${remote}.sig`)), validators.sig) };
}

function conditional(e: CacheEntry | undefined): Record<string, string> | undefined {
  const v = e?.validator;
  if (!v) return undefined;
  const h: Record<string, string> = {};
  if (v.etag) h['if-none-match'] = v.etag;
  if (v.lastModified) h['if-modified-since'] = v.lastModified;
  return Object.keys(h).length ? h : undefined;
}

function writeCache(repo: Repo, remote: string, summary: Buffer, sig: Buffer | undefined, validators: { summary?: Validator; sig?: Validator }): void {
  const dir = cacheDir(repo);
  mkdirSync(dir, { recursive: true });
  const put = (name: string, bytes: Buffer, lastModified?: string): void => {
    const p = join(dir, name);
    writeFileSync(`${p}.tmp`, bytes);
    const t = lastModified ? Date.parse(lastModified) : NaN;
    if (Number.isFinite(t)) utimesSync(`${p}.tmp`, t / 1000, t / 1000);
    renameSync(`${p}.tmp`, p);
  };
  put(remote, summary, validators.summary?.lastModified);
  if (sig) put(`${remote}.sig`, sig, validators.sig?.lastModified);
  else rmSync(join(dir, `${remote}.sig`), { force: true });
  put(`${remote}.canopy-validators.json`, Buffer.from(JSON.stringify(validators)));
}

function validatorOf(headers: Readonly<Record<string, string | undefined>>, bytes: Buffer): Validator {
  return { etag: headers.etag, lastModified: headers['last-modified'], sha256: sha256Hex(bytes) };
}

const policyOn = (s: TrustSettings): boolean => s.gpgVerify === true || s.signVerify === true || (Array.isArray(s.signVerify) && s.signVerify.length > 0);

/**
 * Fetches, verifies, parses and caches the summary of `remote`. Resolves
 * undefined when the server has none. Throws the signature codes of
 * `verifyTrust`, ERR_GVARIANT_* / ERR_OBJECT_INVALID for a malformed
 * summary, ERR_REPO_MODE when the summary says the remote is not an
 * archive repository, and the fetcher's codes.
 */
export async function fetchSummary(repo: Repo, remote: string, fetcher: Fetcher, settings: TrustSettings): Promise<SummaryFetch | undefined> {
  const cache = readCache(repo, remote);
  let usedCache = false;
  const fetchBody = (headers: Record<string, string> | undefined): ReturnType<Fetcher['fetch']> => fetcher.fetch({
    base: 'url', path: 'summary', what: `summary of remote ${remote}`, optional: true, maxBytes: Limits.maxMetadataSize, headers,
  });
  const attempt = async (useCache: boolean): Promise<SummaryFetch & { cached: boolean; validators: { summary?: Validator; sig?: Validator } } | undefined> => {
    const sigP = fetcher.fetch({
      base: 'url', path: 'summary.sig', what: `summary.sig of remote ${remote}`, optional: true,
      maxBytes: MAX_DETACHED_METADATA_SIZE, headers: useCache ? conditional(cache.sig) : undefined,
    });
    const early = !useCache || cache.summary === undefined || cache.sig === undefined;
    const summaryP = early ? fetchBody(useCache ? conditional(cache.summary) : undefined) : undefined;
    summaryP?.catch(() => undefined);
    let sigRes: Awaited<typeof sigP>;
    try {
      sigRes = await sigP;
    } catch (e) {
      await summaryP?.catch(() => undefined);
      throw e;
    }
    let sig: Buffer | undefined;
    let sigValidator: Validator | undefined;
    let cached = false;
    if (sigRes?.status === 304 && cache.sig) {
      sig = cache.sig.bytes;
      sigValidator = cache.sig.validator;
      cached = true;
    } else if (sigRes?.body?.data) {
      sig = sigRes.body.data;
      sigValidator = validatorOf(sigRes.headers, sig);
    }
    let bytes: Buffer;
    let sumValidator: Validator | undefined;
    let fromCache = false;
    if (!summaryP && sig && cache.sig && cache.summary && sig.equals(cache.sig.bytes)) {
      bytes = cache.summary.bytes;
      sumValidator = cache.summary.validator;
      fromCache = true;
    } else {
      const res = await (summaryP ?? fetchBody(!sig ? conditional(cache.summary) : undefined));
      if (!res) return undefined;
      if (res.status === 304 && cache.summary) {
        bytes = cache.summary.bytes;
        sumValidator = cache.summary.validator;
        fromCache = true;
      } else {
        bytes = res.body!.data!;
        sumValidator = validatorOf(res.headers, bytes);
      }
    }
    cached ||= fromCache;
    usedCache = cached;
    const what = `summary of remote ${remote}`;
    let verified = false;
    if (policyOn(settings)) verified = (await verifyTrust(settings, { what, data: bytes, detachedMetadata: sig ?? null })).verified;
    let summary: Summary;
    try {
      summary = parseSummary(bytes);
    } catch (e) {
      if (isCanopyError(e)) throw new CanopyError(e.code, `${what}: ${e.message}`, { ...e.details, remote }, { cause: e });
      throw e;
    }
    const mode = summaryLookup(summary, 'ostree.summary.mode');
    if (mode && mode.type === 's' && mode.value !== 'archive-z2' && mode.value !== 'archive') {
      throw new CanopyError('ERR_REPO_MODE', `remote ${remote} is a ${String(mode.value)} repository; only archive repositories can be pulled from`, { remote, mode: String(mode.value) });
    }
    return { summary, bytes, signature: sig, fromCache, verified, cached, validators: { summary: sumValidator, sig: sigValidator } };
  };
  let r;
  try {
    r = await attempt(true);
  } catch (e) {
    const fixable = isCanopyError(e) && (e.code.startsWith('ERR_SIGNATURE') || e.code.startsWith('ERR_KEY') || e.code.startsWith('ERR_GVARIANT') || e.code === 'ERR_OBJECT_INVALID');
    if (!fixable || !usedCache) throw e;
    r = await attempt(false);
  }
  if (!r) return undefined;
  const unchanged = r.fromCache && (r.signature === undefined ? cache.sig === undefined : cache.sig !== undefined && r.signature.equals(cache.sig.bytes));
  if (!unchanged) {
    try {
      writeCache(repo, remote, r.bytes, r.signature, r.validators);
    } catch {
      // The cache only saves a download next time.
    }
  }
  return { summary: r.summary, bytes: r.bytes, signature: r.signature, fromCache: r.fromCache, verified: r.verified };
}
