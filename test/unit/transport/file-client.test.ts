import { strict as assert } from 'node:assert';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { isCanopyError } from '../../../agent/src/core/errors';
import { createFileClient, createTransport, parseRange, readBody } from '../../../agent/src/transport/index';

describe('transport/file-client', () => {
  let dir: string;
  const url = (p: string): string => pathToFileURL(join(dir, p)).href;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'canopy-file-'));
    mkdirSync(join(dir, 'sub'));
    writeFileSync(join(dir, 'small'), 'hello, file\n');
    writeFileSync(join(dir, 'big'), Buffer.alloc(3 << 20, 1));
    writeFileSync(join(dir, 'secret'), 'x');
    chmodSync(join(dir, 'secret'), 0);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('answers like a static web server: 200, 404, Range, conditional requests', async () => {
    const c = createFileClient();
    const r = await c.get({ url: url('small') });
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-length'], '12');
    assert.equal((await readBody(r, 100, 'small')).toString(), 'hello, file\n');
    for (const p of ['missing', 'sub', 'small/x']) assert.equal((await c.get({ url: url(p) })).status, 404, p);
    const part = await c.get({ url: url('small'), headers: { Range: 'bytes=7-' } });
    assert.equal(part.status, 206);
    assert.equal(part.headers['content-range'], 'bytes 7-11/12');
    assert.equal((await readBody(part, 100, 'x')).toString(), 'file\n');
    assert.equal((await c.get({ url: url('small'), headers: { range: 'bytes=12-' } })).status, 416);
    const etag = r.headers.etag!;
    assert.equal((await c.get({ url: url('small'), headers: { 'if-none-match': etag } })).status, 304);
    assert.equal((await c.get({ url: url('small'), headers: { 'if-none-match': '"other"' } })).status, 200);
    const big = await c.get({ url: url('big'), headers: { range: 'bytes=1-' } });
    assert.equal((await readBody(big, 4 << 20, 'big')).length, (3 << 20) - 1);
    await (await c.get({ url: url('big') })).dump();
  });

  it('reports an unreadable file as 403 (unless root) and rejects other schemes', async function () {
    const c = createFileClient();
    if (process.getuid?.() !== 0) assert.equal((await c.get({ url: url('secret') })).status, 403);
    await assert.rejects(c.get({ url: 'http://example.com/x' }), (e) => isCanopyError(e, 'ERR_INVALID_ARGUMENT'));
    await assert.rejects(createTransport().get({ url: 'ftp://example.com/x' }), (e) => isCanopyError(e, 'ERR_INVALID_ARGUMENT'));
  });

  it('parses single byte ranges only', () => {
    assert.deepEqual(parseRange('bytes=0-4', 10), { start: 0, end: 4 });
    assert.deepEqual(parseRange('bytes=5-', 10), { start: 5, end: 9 });
    assert.deepEqual(parseRange('bytes=5-100', 10), { start: 5, end: 9 });
    for (const bad of ['bytes=10-', 'bytes=4-3', 'bytes=-5', 'bytes=0-1,3-4', 'items=0-1']) assert.equal(parseRange(bad, 10), undefined, bad);
  });
});
