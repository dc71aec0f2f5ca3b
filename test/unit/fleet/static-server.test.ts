import { strict as assert } from 'node:assert';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseRange, requestSegments, serveDirectory, type ServedRequest, type StaticServer } from '../../../agent/src/fleet/index';

interface Answer { status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }

/** A raw request (no URL normalisation by a client library). */
function get(srv: StaticServer, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: srv.host, port: srv.port, path, method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('fleet/static-server (canopy serve)', () => {
  let dir: string;
  let srv: StaticServer;
  const log: ServedRequest[] = [];
  const body = Buffer.from('0123456789abcdef');

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'canopy-serve-'));
    const root = join(dir, 'repo');
    mkdirSync(join(root, 'objects/ab'), { recursive: true });
    mkdirSync(join(root, 'refs/heads/acme'), { recursive: true });
    mkdirSync(join(root, 'deltas/Ab/cd+ef-gh'), { recursive: true });
    writeFileSync(join(root, 'objects/ab/cdef.filez'), body);
    writeFileSync(join(root, 'refs/heads/acme/os'), `${'a'.repeat(64)}\n`);
    writeFileSync(join(root, 'config'), '[core]\nmode=archive-z2\n');
    writeFileSync(join(root, 'summary'), Buffer.alloc(0));
    writeFileSync(join(root, 'deltas/Ab/cd+ef-gh/superblock'), 'sb');
    writeFileSync(join(dir, 'secret'), 'outside');
    symlinkSync(join(dir, 'secret'), join(root, 'escape'));
    symlinkSync('config', join(root, 'inside-link'));
    srv = await serveDirectory({ root, onRequest: (r) => log.push(r) });
  });
  after(async () => {
    await srv.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves files with content type, length, ETag and cache hints', async () => {
    const a = await get(srv, '/objects/ab/cdef.filez');
    assert.equal(a.status, 200);
    assert.ok(a.body.equals(body));
    assert.equal(a.headers['content-type'], 'application/octet-stream');
    assert.equal(a.headers['content-length'], '16');
    assert.match(String(a.headers.etag), /^"[0-9a-f]+-[0-9a-f]+-[0-9a-f]+"$/);
    assert.match(String(a.headers['cache-control']), /immutable/);
    assert.equal(a.headers['x-content-type-options'], 'nosniff');
    const cfg = await get(srv, '/config');
    assert.equal(cfg.headers['content-type'], 'text/plain; charset=utf-8');
    assert.equal(cfg.headers['cache-control'], 'no-cache');
    assert.equal((await get(srv, '/refs/heads/acme/os')).headers['content-type'], 'text/plain; charset=utf-8');
    const empty = await get(srv, '/summary');
    assert.deepEqual([empty.status, empty.body.length], [200, 0]);
    assert.equal((await get(srv, '/deltas/Ab/cd+ef-gh/superblock')).body.toString(), 'sb', 'a literal + in the path');
    assert.equal((await get(srv, '/inside-link')).status, 200, 'a symlink that stays inside is followed');
  });

  it('answers If-None-Match and If-Modified-Since with 304, HEAD without a body', async () => {
    const first = await get(srv, '/config');
    const etag = String(first.headers.etag);
    assert.equal((await get(srv, '/config', { 'If-None-Match': etag })).status, 304);
    assert.equal((await get(srv, '/config', { 'If-None-Match': `"x", W/${etag}` })).status, 304);
    assert.equal((await get(srv, '/config', { 'If-None-Match': '"other"' })).status, 200);
    assert.equal((await get(srv, '/config', { 'If-Modified-Since': String(first.headers['last-modified']) })).status, 304);
    const head = await get(srv, '/objects/ab/cdef.filez', {}, 'HEAD');
    assert.deepEqual([head.status, head.headers['content-length'], head.body.length], [200, '16', 0]);
  });

  it('serves single byte ranges (206), refuses unsatisfiable ones (416), ignores a stale If-Range', async () => {
    const p = '/objects/ab/cdef.filez';
    const r = await get(srv, p, { Range: 'bytes=4-7' });
    assert.deepEqual([r.status, r.body.toString(), r.headers['content-range']], [206, '4567', 'bytes 4-7/16']);
    assert.equal((await get(srv, p, { Range: 'bytes=10-' })).body.toString(), 'abcdef');
    assert.equal((await get(srv, p, { Range: 'bytes=-3' })).body.toString(), 'def');
    assert.equal((await get(srv, p, { Range: 'bytes=12-100' })).body.toString(), 'cdef');
    const bad = await get(srv, p, { Range: 'bytes=16-' });
    assert.deepEqual([bad.status, bad.headers['content-range']], [416, 'bytes */16']);
    assert.equal((await get(srv, p, { Range: 'bytes=0-1,4-5' })).status, 200, 'several ranges get the whole file');
    assert.equal((await get(srv, p, { Range: 'bytes=0-1', 'If-Range': '"stale"' })).status, 200);
  });

  it('refuses traversal, directories, symlinks out of the root and other methods', async () => {
    for (const path of ['/../secret', '/objects/../../secret', '/%2e%2e/secret', '/objects/%2E%2E/%2e%2e/secret', '/./config']) {
      assert.equal((await get(srv, path)).status, 403, path);
    }
    assert.equal((await get(srv, '/escape')).status, 403, 'a symlink pointing outside the root');
    assert.equal((await get(srv, '/objects')).status, 404, 'no directory listing');
    assert.equal((await get(srv, '/')).status, 404);
    assert.equal((await get(srv, '/nope')).status, 404);
    assert.equal((await get(srv, '/a%00b')).status, 400);
    assert.equal((await get(srv, '/a%zz')).status, 400);
    assert.equal((await get(srv, '/objects\\ab')).status, 400);
    const post = await get(srv, '/config', {}, 'POST');
    assert.deepEqual([post.status, post.headers.allow], [405, 'GET, HEAD']);
    assert.ok(log.some((l) => l.status === 403 && l.path === '/../secret'), 'requests are reported');
  });

  it('parses ranges and targets as pure functions', () => {
    assert.deepEqual(parseRange('bytes=0-0', 10), { start: 0, end: 0 });
    assert.equal(parseRange('bytes=5-2', 10), 416);
    assert.equal(parseRange('bytes=-0', 10), 416);
    assert.equal(parseRange('items=0-1', 10), 'whole');
    assert.deepEqual(requestSegments('/a//b?x=1'), ['a', 'b']);
    assert.equal(requestSegments('a'), 400);
  });
});
