/**
 * Every fault the test server can inject ends in a verified, complete pull
 * or a clear error; either way the repository passes fsck, nothing partial
 * is in `objects/`, and no ref moves on failure.
 */
import { strict as assert } from 'node:assert';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { isCanopyError, type CanopyError } from '../../../agent/src/core/errors';
import { ObjectType, serializeSummary } from '../../../agent/src/objects/index';
import { pull, type PullOptions } from '../../../agent/src/pull/index';
import { serveDirectory, type RepoServer } from '../../helpers/http-server';
import { assertHealthy, cleanup, makeClient, makeServedRepo, originRef, type ServedRepo } from './fixture';

const FAST: PullOptions = { retries: 3, retryBaseMs: 1, retryMaxMs: 5, transport: { bodyTimeoutMs: 400, headersTimeoutMs: 400 } };

function objPath(c: string, ext: string): string {
  return `/objects/${c.slice(0, 2)}/${c.slice(2)}.${ext}`;
}

async function failsWith(p: Promise<unknown>, codes: string[], text?: RegExp): Promise<CanopyError> {
  try {
    await p;
  } catch (e) {
    assert.ok(isCanopyError(e), `not a CanopyError: ${String(e)}`);
    assert.ok(codes.includes(e.code), `${e.code}: ${e.message}`);
    if (text) assert.match(e.message, text);
    return e;
  }
  assert.fail('the pull succeeded');
}

describe('pull under faults (fault-injecting server)', function () {
  let s: ServedRepo;
  let srv: RepoServer;
  /** The largest content object of v2 (the 1.2 MB file), the smallest, and a middling one. */
  let big: string;
  let small: string;
  let medium: string;

  before(async () => {
    s = await makeServedRepo();
    srv = await serveDirectory(s.path);
    const c = makeClient(s.dir, srv.url);
    await pull(c, 'origin', ['main']);
    const filez = srv.log.filter((l) => l.path.endsWith('.filez')).sort((a, b) => b.bytes - a.bytes);
    big = filez[0].path;
    small = filez[filez.length - 1].path;
    medium = filez.find((l) => l.bytes < 20_000 && l.bytes > 1000)!.path;
    assert.ok(filez[0].bytes > 300_000);
  });
  after(async () => {
    await srv?.close();
    cleanup(s?.dir);
  });
  beforeEach(() => {
    srv.resetLog();
    srv.clearFaults();
  });

  const hits = (path: string): string[] => srv.log.filter((l) => l.path === path).map((l) => `${l.status}${l.range ? ` ${l.range}` : ''}`);

  it('retries 503 and 429 with backoff, then completes', async () => {
    srv.addFault({ match: small, times: 2, status: 503 });
    srv.addFault({ match: objPath(s.v2, 'commit'), times: 1, status: 429, retryAfter: '0' });
    const c = makeClient(s.dir, srv.url);
    await pull(c, 'origin', ['main'], FAST);
    assert.deepEqual(hits(small), ['503', '503', '200']);
    assert.deepEqual(hits(objPath(s.v2, 'commit')), ['429', '200']);
    assert.equal(originRef(c), s.v2);
    await assertHealthy(c);
  });

  it('gives up on a persistent 500 after the retries: clear error, no ref, partial commit', async () => {
    srv.addFault({ match: small, status: 500 });
    const c = makeClient(s.dir, srv.url);
    const e = await failsWith(pull(c, 'origin', ['main'], FAST), ['ERR_HTTP_STATUS'], /500/);
    assert.equal(e.details.status, 500);
    assert.equal(hits(small).length, 4, '1 + 3 retries');
    assert.equal(originRef(c), undefined);
    await assertHealthy(c, { partial: [s.v2] });
  });

  it('does not retry 404 or 403', async () => {
    for (const status of [404, 403]) {
      srv.resetLog();
      srv.clearFaults();
      srv.addFault({ match: small, status });
      const c = makeClient(s.dir, srv.url);
      const e = await failsWith(pull(c, 'origin', ['main'], FAST), ['ERR_HTTP_STATUS']);
      assert.equal(e.details.status, status);
      assert.deepEqual(hits(small), [String(status)]);
      assert.equal(originRef(c), undefined);
      await assertHealthy(c, { partial: [s.v2] });
    }
  });

  it('resumes a body cut by a connection reset with Range (206), without fetching it whole again', async () => {
    srv.addFault({ match: big, times: 1, resetAfter: 100_000 });
    const c = makeClient(s.dir, srv.url);
    await pull(c, 'origin', ['main'], FAST);
    assert.deepEqual(hits(big), ['200', '206 bytes=100000-']);
    const sent = srv.log.filter((l) => l.path === big).reduce((n, l) => n + l.bytes, 0);
    assert.equal(sent, statSync(join(s.path, big)).size, 'every byte sent once');
    await assertHealthy(c);
  });

  it('resumes into a spool file when the object is larger than the memory limit (bare and archive)', async () => {
    for (const mode of ['bare-user-only', 'archive'] as const) {
      srv.resetLog();
      srv.clearFaults();
      srv.addFault({ match: big, times: 2, resetAfter: 70_000 });
      const c = makeClient(s.dir, srv.url, mode);
      await pull(c, 'origin', ['main'], { ...FAST, inMemoryLimit: 64 * 1024 });
      assert.deepEqual(hits(big), ['200', '206 bytes=70000-', '206 bytes=140000-']);
      await assertHealthy(c);
    }
  });

  it('starts over when the server ignores Range, and when it answers a resume with a foreign Content-Range', async () => {
    srv.addFault({ match: big, times: 1, resetAfter: 50_000 });
    srv.addFault({ match: (p) => p === big, times: 1, ignoreRange: true });
    const c = makeClient(s.dir, srv.url);
    await pull(c, 'origin', ['main'], FAST);
    assert.deepEqual(hits(big), ['200', '200 bytes=50000-']);
    await assertHealthy(c);

    srv.resetLog();
    srv.addFault({ match: big, times: 1, resetAfter: 50_000 });
    srv.addFault({ match: big, times: 1, wrongRange: true });
    const c2 = makeClient(s.dir, srv.url);
    await pull(c2, 'origin', ['main'], FAST);
    assert.deepEqual(hits(big), ['200', '206 bytes=50000-', '200'], 'a 206 that is not the continuation is dropped; the object is fetched whole');
    await assertHealthy(c2);
  });

  it('times out a stalled body and resumes it', async () => {
    srv.addFault({ match: big, times: 1, stallAfter: 30_000 });
    const c = makeClient(s.dir, srv.url);
    await pull(c, 'origin', ['main'], FAST);
    assert.deepEqual(hits(big), ['200', '206 bytes=30000-']);
    await assertHealthy(c);
  });

  it('refuses a truncated body without Content-Length, a corrupted byte, and a corrupted dirtree', async () => {
    const cases: Array<{ fault: Parameters<RepoServer['addFault']>[0]; codes: string[]; names: RegExp }> = [
      { fault: { match: big, truncateAt: 200_000 }, codes: ['ERR_OBJECT_INVALID', 'ERR_CHECKSUM_MISMATCH'], names: /file object [0-9a-f]{64}/ },
      { fault: { match: medium, corruptAt: 500 }, codes: ['ERR_OBJECT_INVALID', 'ERR_CHECKSUM_MISMATCH'], names: /file object [0-9a-f]{64}/ },
      { fault: { match: /\.dirtree$/, corruptAt: 3 }, codes: ['ERR_CHECKSUM_MISMATCH'], names: /dirtree [0-9a-f]{64}/ },
      { fault: { match: objPath(s.v2, 'commit'), corruptAt: 5 }, codes: ['ERR_CHECKSUM_MISMATCH'], names: /commit [0-9a-f]{64}/ },
    ];
    for (const k of cases) {
      srv.clearFaults();
      srv.addFault(k.fault);
      const c = makeClient(s.dir, srv.url);
      await failsWith(pull(c, 'origin', ['main'], FAST), k.codes, k.names);
      assert.equal(originRef(c), undefined);
      const partial = c.hasObject(s.v2, ObjectType.COMMIT) ? [s.v2] : [];
      await assertHealthy(c, { partial });
    }
  });

  it('refuses a replaced summary that is garbage, and one that rolls the ref back to an old commit', async () => {
    srv.override('/summary', Buffer.from('this is not a summary at all, just bytes'));
    try {
      const c = makeClient(s.dir, srv.url);
      await failsWith(pull(c, 'origin', ['main'], FAST), ['ERR_GVARIANT_TRUNCATED', 'ERR_GVARIANT_NOT_NORMAL', 'ERR_OBJECT_INVALID'], /summary of remote origin/);
      assert.equal(originRef(c), undefined);

      srv.override('/summary', undefined);
      await pull(c, 'origin', ['main'], FAST);
      assert.equal(originRef(c), s.v2);
      // An attacker serves the old (validly made) commit as the current one.
      const v1Size = s.repo.readMetadataBytes(ObjectType.COMMIT, s.v1).length;
      srv.override('/summary', serializeSummary({ refs: [{ name: 'main', commit: s.v1, commitSize: v1Size, metadata: [] }], metadata: [] }));
      await failsWith(pull(c, 'origin', ['main'], FAST), ['ERR_DOWNGRADE'], /older commit/);
      assert.equal(originRef(c), s.v2);
      await assertHealthy(c);
    } finally {
      srv.override('/summary', undefined);
    }
  });

  it('stops at the byte and object budgets', async () => {
    const c = makeClient(s.dir, srv.url);
    await failsWith(pull(c, 'origin', ['main'], { ...FAST, maxBytes: 200_000 }), ['ERR_BUDGET_EXCEEDED'], /200000 bytes/);
    assert.equal(originRef(c), undefined);
    await assertHealthy(c, { partial: [s.v2] });
    const c2 = makeClient(s.dir, srv.url);
    await failsWith(pull(c2, 'origin', ['main'], { ...FAST, maxObjects: 5 }), ['ERR_BUDGET_EXCEEDED'], /5 objects/);
    assert.equal(originRef(c2), undefined);
  });

  it('keeps what a failed pull verified; the rerun fetches only the rest', async () => {
    srv.addFault({ match: small, status: 404 });
    const c = makeClient(s.dir, srv.url);
    await failsWith(pull(c, 'origin', ['main'], { ...FAST, concurrency: 1 }), ['ERR_HTTP_STATUS']);
    const first = new Set(srv.log.filter((l) => l.status === 200 && l.path.startsWith('/objects/') && !l.path.endsWith('.commitmeta')).map((l) => l.path));
    assert.ok(first.size > 0);
    srv.resetLog();
    srv.clearFaults();
    await pull(c, 'origin', ['main'], FAST);
    const again = srv.log.filter((l) => first.has(l.path));
    assert.deepEqual(again, [], 'objects stored by the failed pull are not fetched again');
    assert.equal(originRef(c), s.v2);
    await assertHealthy(c);
  });

  it('cancels on an abort signal: ERR_ABORTED, no ref, healthy repository', async () => {
    srv.addFault({ match: /\.filez$/, delayMs: 20 });
    const ctl = new AbortController();
    const c = makeClient(s.dir, srv.url);
    const p = pull(c, 'origin', ['main'], { ...FAST, signal: ctl.signal, onProgress: (pr) => { if (pr.contentDone >= 3) ctl.abort(); } });
    await failsWith(p, ['ERR_ABORTED']);
    assert.equal(originRef(c), undefined);
    await assertHealthy(c, { partial: [s.v2] });
  });

  it('reports a refused connection as a network error after retries', async () => {
    const c = makeClient(s.dir, 'http://127.0.0.1:1/');
    const e = await failsWith(pull(c, 'origin', ['main'], FAST), ['ERR_NETWORK'], /127\.0\.0\.1:1/);
    assert.equal(e.details.transient, true);
  });
});
