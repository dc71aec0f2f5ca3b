import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isCanopyError } from '../../../agent/src/core/errors';
import { PollChannel, type RefUpdate } from '../../../agent/src/channel/index';
import { serializeSummary } from '../../../agent/src/objects/index';
import { ED25519_SIGNATURES_KEY, Ed25519KeySet, addSignature, serializeDetachedMetadata, signEd25519 } from '../../../agent/src/sign/index';
import { createTransport, type HttpClient } from '../../../agent/src/transport/index';
import { serveDirectory, type RepoServer } from '../../helpers/http-server';
import { operatorKey, strangerKey } from './fixtures';

const REF = 'acme/rpi4/stable';
const c = (d: string) => d.repeat(64);

describe('channel/poll-channel', () => {
  let dir: string;
  let srv: RepoServer;
  let http: HttpClient;

  const writeSummary = (commit: string, opts: { signWith?: Buffer } = {}) => {
    const bytes = serializeSummary({ refs: [{ name: REF, commit, commitSize: 100, metadata: [] }, { name: 'other', commit: c('e'), commitSize: 1, metadata: [] }], metadata: [] });
    writeFileSync(join(dir, 'summary'), bytes);
    if (opts.signWith) {
      const md = addSignature([], ED25519_SIGNATURES_KEY, signEd25519(opts.signWith, bytes));
      writeFileSync(join(dir, 'summary.sig'), serializeDetachedMetadata(md));
    }
  };

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'canopy-poll-'));
    srv = await serveDirectory(dir);
    http = createTransport();
  });
  afterEach(async () => {
    await http.close();
    await srv.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reports the ref\'s commit, then asks with If-None-Match and gets 304 while nothing changed', async () => {
    writeSummary(c('a'));
    const ch = new PollChannel({ url: srv.url, ref: REF, http });
    const seen: RefUpdate[] = [];
    ch.onRefUpdate((u) => seen.push(u));
    assert.deepEqual(await ch.checkNow(), { status: 'update', update: { ref: REF, commit: c('a'), url: srv.url, verified: false } });
    assert.deepEqual(await ch.checkNow(), { status: 'unchanged' });
    const reqs = srv.requests((r) => r.path === '/summary');
    assert.equal(reqs.length, 2);
    assert.equal(reqs[1].status, 304);
    assert.ok(reqs[1].ifNoneMatch, 'the second request is conditional');
    assert.equal(seen.length, 1);
  });

  it('does not report the commit the device already has, and reports the ref once it moves', async () => {
    writeSummary(c('a'));
    const ch = new PollChannel({ url: srv.url, ref: REF, http, knownCommit: c('a') });
    assert.deepEqual(await ch.checkNow(), { status: 'same-commit', commit: c('a') });
    await new Promise((r) => setTimeout(r, 15)); // a new mtime, so a new ETag
    writeSummary(c('b'));
    const r = await ch.checkNow();
    assert.ok(r.status === 'update' && r.update.commit === c('b'));
  });

  it('checks a signed summary against the remote\'s keys before believing it', async () => {
    writeSummary(c('a'), { signWith: operatorKey.secretKey });
    const trust = { gpgVerify: false, signVerify: true, ed25519: { trusted: new Ed25519KeySet([operatorKey.publicKey]) } };
    const ok = await new PollChannel({ url: srv.url, ref: REF, http, trust }).checkNow();
    assert.ok(ok.status === 'update' && ok.update.verified);
    writeSummary(c('b'), { signWith: strangerKey.secretKey });
    const ch = new PollChannel({ url: srv.url, ref: REF, http, trust });
    await assert.rejects(ch.checkNow(), (e) => isCanopyError(e, 'ERR_SIGNATURE_INVALID'));
    rmSync(join(dir, 'summary.sig'));
    await assert.rejects(ch.checkNow(), (e) => isCanopyError(e, 'ERR_SIGNATURE_MISSING'));
    writeSummary(c('b'), { signWith: operatorKey.secretKey });
    const after = await ch.checkNow();
    assert.ok(after.status === 'update' && after.update.commit === c('b'), 'a refused summary is fetched again, not cached by ETag');
  });

  it('fails with a clear code for a missing ref, a server error and a summary that is not one', async () => {
    writeSummary(c('a'));
    await assert.rejects(new PollChannel({ url: srv.url, ref: 'nope', http }).checkNow(), (e) => isCanopyError(e, 'ERR_REF_NOT_FOUND'));
    srv.addFault({ match: '/summary', times: 1, status: 503 });
    await assert.rejects(new PollChannel({ url: srv.url, ref: REF, http }).checkNow(), (e) => isCanopyError(e, 'ERR_HTTP_STATUS') && e.details.status === 503);
    writeFileSync(join(dir, 'summary'), Buffer.from('not a summary'));
    await assert.rejects(new PollChannel({ url: srv.url, ref: REF, http }).checkNow(), (e) => isCanopyError(e) && (e.code.startsWith('ERR_GVARIANT') || e.code === 'ERR_OBJECT_INVALID'));
    writeSummary(c('a'));
    await assert.rejects(new PollChannel({ url: srv.url, ref: REF, http, maxSummaryBytes: 10 }).checkNow(), (e) => isCanopyError(e, 'ERR_OBJECT_INVALID'));
  });

  it('polls on its own once started, retries after failures, and stops', async () => {
    srv.addFault({ match: '/summary', times: 1, status: 500 });
    writeSummary(c('a'));
    const ch = new PollChannel({ url: srv.url, ref: REF, http, intervalMs: 20, jitterMs: 5, backoff: { initialMs: 10 } });
    const statuses: string[] = [];
    ch.onStatus((s) => statuses.push(s.state));
    const update = new Promise<RefUpdate>((resolve) => ch.onRefUpdate(resolve));
    await ch.start();
    assert.equal((await update).commit, c('a'));
    await new Promise((r) => setTimeout(r, 100));
    await ch.stop();
    const n = srv.requests((r) => r.path === '/summary').length;
    assert.ok(n >= 3, `${n} polls`);
    assert.deepEqual(statuses.slice(0, 2), ['disconnected', 'connected']);
    assert.equal(statuses.at(-1), 'stopped');
    await new Promise((r) => setTimeout(r, 60));
    assert.equal(srv.requests((r) => r.path === '/summary').length, n, 'no polls after stop');
    assert.equal(await ch.publishEvent({ kind: 'progress', phase: 'download' }), false, 'no upstream');
  });
});
