/**
 * The undici adapter against a local server: keep-alive reuse with bounded
 * connections, error mapping (refused, reset, aborted), back-pressure on a
 * large body, proxies from the environment or the remote's `proxy`, and
 * WebAssembly (undici's HTTP parser) kept off V8's optimising tier.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { getEventListeners } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, connect as netConnect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isCanopyError } from '../../../agent/src/core/errors';
import { createUndiciClient, readBody, type HttpClient } from '../../../agent/src/transport/index';
import { UrlSplitter } from '../../../agent/src/transport/undici-client';
import { serveDirectory, type RepoServer } from '../../helpers/http-server';

/** A forward proxy that only does CONNECT tunnels, counting them. */
async function connectProxy(): Promise<{ url: string; tunnels: string[]; close(): Promise<void> }> {
  const tunnels: string[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    sockets.add(client);
    client.once('data', (head) => {
      const m = /^CONNECT ([^ ]+) HTTP\/1\.1/.exec(head.toString('latin1'));
      if (!m) return client.end('HTTP/1.1 405 Method Not Allowed\r\n\r\n');
      tunnels.push(m[1]);
      const [host, port] = m[1].split(':');
      const upstream = netConnect(Number(port), host, () => {
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        upstream.pipe(client);
        client.pipe(upstream);
      });
      sockets.add(upstream);
      upstream.on('error', () => client.destroy());
      client.on('error', () => upstream.destroy());
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    tunnels,
    close: () => new Promise<void>((r) => {
      for (const s of sockets) s.destroy();
      server.close(() => r());
    }),
  };
}

describe('transport/undici-client', () => {
  let dir: string;
  let srv: RepoServer;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'canopy-undici-'));
    mkdirSync(join(dir, 'd'));
    writeFileSync(join(dir, 'hello'), 'hello\n');
    writeFileSync(join(dir, 'large'), Buffer.alloc(3 << 20, 7));
    srv = await serveDirectory(dir);
  });
  after(async () => {
    await srv?.close();
    rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(() => {
    srv.clearFaults();
    srv.resetLog();
  });

  const text = async (c: HttpClient, path: string): Promise<string> => {
    const r = await c.get({ url: srv.url + path });
    assert.equal(r.status, 200);
    return (await readBody(r, 1 << 20, path)).toString();
  };

  it('reuses keep-alive connections and keeps at most `connections` open', async () => {
    const one = createUndiciClient({ env: {}, connections: 1 });
    let before = srv.connections();
    for (let i = 0; i < 5; i++) assert.equal(await text(one, 'hello'), 'hello\n');
    await Promise.all(Array.from({ length: 5 }, () => text(one, 'hello')));
    assert.equal(srv.connections() - before, 1, 'every request went over one kept-alive connection');
    await one.close();
    const c = createUndiciClient({ env: {}, connections: 2 });
    before = srv.connections();
    try {
      await Promise.all(Array.from({ length: 12 }, () => text(c, 'hello')));
      assert.ok(srv.connections() - before <= 2, `${srv.connections() - before} connections`);
      const r = await c.get({ url: `${srv.url}missing` });
      assert.equal(r.status, 404);
      await r.dump();
      assert.equal(await text(c, 'hello'), 'hello\n', 'a dumped 404 leaves the connection usable');
    } finally {
      await c.close();
    }
  });

  it('streams a large body with back-pressure while the reader is slow', async () => {
    const c = createUndiciClient({ env: {} });
    try {
      const r = await c.get({ url: `${srv.url}large` });
      let n = 0;
      for await (const chunk of r.body) {
        n += chunk.length;
        await new Promise((res) => setImmediate(res));
      }
      assert.equal(n, 3 << 20);
    } finally {
      await c.close();
    }
  });

  it('consume() hands over every chunk, fails with a reset body, and aborts when its callback throws', async () => {
    const c = createUndiciClient({ env: {} });
    try {
      const r = await c.get({ url: `${srv.url}large` });
      assert.ok(r.consume, 'the undici adapter offers consume()');
      let n = 0;
      await r.consume((chunk) => {
        assert.ok(chunk.every((b) => b === 7));
        n += chunk.length;
      });
      assert.equal(n, 3 << 20);

      const limit = new Error('over the limit');
      const big = await c.get({ url: `${srv.url}large` });
      let seen = 0;
      await assert.rejects(big.consume!((chunk) => {
        seen += chunk.length;
        if (seen > 100_000) throw limit;
      }), (e) => e === limit);
      assert.ok(seen < 3 << 20, 'the body stopped at the first throw');
      assert.equal(await text(c, 'hello'), 'hello\n', 'the client is usable after an aborted body');

      srv.addFault({ match: '/large', resetAfter: 1000 });
      const reset = await c.get({ url: `${srv.url}large` });
      await assert.rejects(reset.consume!(() => undefined), (e) => isCanopyError(e, 'ERR_NETWORK') && e.details.transient === true);
    } finally {
      await c.close();
    }
  });

  it('maps failures: refused and reset are transient ERR_NETWORK, a fired signal is ERR_ABORTED', async () => {
    const c = createUndiciClient({ env: {}, bodyTimeoutMs: 300 });
    try {
      await assert.rejects(c.get({ url: 'http://127.0.0.1:1/x' }), (e) => isCanopyError(e, 'ERR_NETWORK') && e.details.transient === true);
      srv.addFault({ match: '/large', resetAfter: 1000 });
      const r = await c.get({ url: `${srv.url}large` });
      await assert.rejects(readBody(r, 4 << 20, 'large'), (e) => isCanopyError(e, 'ERR_NETWORK') && e.details.transient === true);
      srv.clearFaults();
      srv.addFault({ match: '/large', stallAfter: 1000 });
      const stalled = await c.get({ url: `${srv.url}large` });
      await assert.rejects(readBody(stalled, 4 << 20, 'large'), (e) => isCanopyError(e, 'ERR_NETWORK') && e.details.transient === true && /timeout/i.test(e.message));
      srv.clearFaults();
      srv.addFault({ match: '/hello', delayMs: 2000 });
      const ctl = new AbortController();
      setTimeout(() => ctl.abort(), 50);
      await assert.rejects(c.get({ url: `${srv.url}hello`, signal: ctl.signal }), (e) => isCanopyError(e, 'ERR_ABORTED'));
      await assert.rejects(c.get({ url: `${srv.url}hello`, signal: AbortSignal.abort() }), (e) => isCanopyError(e, 'ERR_ABORTED'));
    } finally {
      await c.close();
    }
  });

  it('gives header names in lower case and joins a repeated header', async () => {
    const server = createServer((sock) => {
      sock.once('data', () => sock.end('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nETag: "v1"\r\nX-Mirror: a\r\nx-mirror: b\r\nConnection: close\r\n\r\nok'));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const c = createUndiciClient({ env: {} });
    try {
      const port = (server.address() as { port: number }).port;
      const r = await c.get({ url: `http://127.0.0.1:${port}/x` });
      assert.equal(r.headers.etag, '"v1"');
      assert.equal(r.headers['content-length'], '2');
      assert.equal(r.headers['x-mirror'], 'a, b');
      assert.equal((await readBody(r, 16, 'x')).toString(), 'ok');
    } finally {
      await c.close();
      await new Promise((r) => server.close(r));
    }
  });

  it('close() lets a body in flight finish, and an idle close ends the kept-alive connections', async () => {
    const closed: Array<Promise<void>> = [];
    const server = createServer((sock) => {
      closed.push(new Promise((r) => sock.once('close', () => r())));
      sock.on('data', () => sock.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const port = (server.address() as { port: number }).port;
      const idle = createUndiciClient({ env: {}, connections: 2 });
      await Promise.all([1, 2].map(async () => assert.equal((await readBody(await idle.get({ url: `http://127.0.0.1:${port}/x` }), 16, 'x')).toString(), 'ok')));
      assert.equal(closed.length, 2);
      await idle.close();
      await Promise.all(closed);

      const busy = createUndiciClient({ env: {} });
      const r = await busy.get({ url: `${srv.url}large` });
      const closing = busy.close();
      assert.equal((await readBody(r, 4 << 20, 'large')).length, 3 << 20, 'the body read after close() began is whole');
      await closing;
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it('one abort signal over many requests: one listener on it, and firing it stops every request in flight', async () => {
    const c = createUndiciClient({ env: {} });
    try {
      const ctl = new AbortController();
      for (let i = 0; i < 20; i++) await readBody(await c.get({ url: `${srv.url}hello`, signal: ctl.signal }), 1024, 'hello');
      assert.equal(getEventListeners(ctl.signal, 'abort').length, 1, 'requests that ended leave no listener behind, and each does not add one');
      srv.addFault({ match: '/hello', delayMs: 2000 });
      const pending = [1, 2, 3].map(() => c.get({ url: `${srv.url}hello`, signal: ctl.signal }));
      setTimeout(() => ctl.abort(), 50);
      for (const p of pending) await assert.rejects(p, (e) => isCanopyError(e, 'ERR_ABORTED'));
    } finally {
      srv.clearFaults();
      await c.close();
    }
  });

  it('goes through HTTP_PROXY from the environment, except for NO_PROXY hosts, and through the remote\'s proxy', async () => {
    const proxy = await connectProxy();
    try {
      const viaEnv = createUndiciClient({ env: { HTTP_PROXY: proxy.url } });
      assert.equal(await text(viaEnv, 'hello'), 'hello\n');
      await viaEnv.close();
      assert.deepEqual(proxy.tunnels, [`127.0.0.1:${srv.port}`]);
      const bypass = createUndiciClient({ env: { HTTP_PROXY: proxy.url, NO_PROXY: '127.0.0.1' } });
      assert.equal(await text(bypass, 'hello'), 'hello\n');
      await bypass.close();
      assert.equal(proxy.tunnels.length, 1, 'NO_PROXY bypasses the proxy');
      const configured = createUndiciClient({ env: {}, proxy: proxy.url });
      assert.equal(await text(configured, 'hello'), 'hello\n');
      await configured.close();
      assert.equal(proxy.tunnels.length, 2);
      assert.throws(() => createUndiciClient({ env: {}, proxy: proxy.url, tlsPermissive: true, pinnedSpki: [`${'A'.repeat(43)}=`] }), (e) => isCanopyError(e, 'ERR_CONFIG_INVALID'));
    } finally {
      await proxy.close();
    }
  });

  it('once it has loaded undici, hot WebAssembly stays on V8\'s baseline tier (a process without it optimises)', function () {
    this.timeout(30_000);
    const tier = (...args: string[]): string => {
      const r = spawnSync(process.execPath, ['--allow-natives-syntax', '--import', 'tsx', join(__dirname, 'wasm-tier-child.ts'), ...args], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      return r.stdout;
    };
    assert.equal(tier('control'), 'turbofan');
    assert.equal(tier(), 'liftoff');
  });

  it('splits URLs into origin and path exactly as new URL does, also where the fast path must step aside', () => {
    const urls = [
      'http://127.0.0.1:18088/objects/ab/cdef.filez', 'http://127.0.0.1:18088/objects/ab/cdef.filez', 'HTTP://Example.COM:80/repo/summary',
      'https://host:443/a/b', 'http://host/a/./b', 'http://host/a/../b', 'http://host/a/..', 'http://host/a/%2e%2e/b', 'http://host/a b',
      'http://host/a?x=1', 'http://host?x=/y', 'http://host#f/y', 'http://user:pw@host/a', 'http://host\\a/b', 'http://host//double/slash',
      'http://[::1]:8080/x', 'http://host/\u00e9', 'http://host/.hidden/x',
    ];
    const split = new UrlSplitter();
    for (const url of [...urls, ...urls]) {
      const u = new URL(url);
      assert.deepEqual(split.split(url), { origin: u.origin, path: u.pathname + u.search }, url);
    }
    assert.throws(() => split.split('not a url'));
  });
});
