/**
 * HTTPS against a local server with a private CA made by openssl: a
 * configured CA is trusted and an unknown one refused, SPKI pins that match
 * pass and others fail (also without CA verification), and a server that
 * demands a client certificate gets one when configured.
 */
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isCanopyError } from '../../../agent/src/core/errors';
import { pull } from '../../../agent/src/pull/index';
import { createUndiciClient, readBody, spkiSha256, type TransportOptions } from '../../../agent/src/transport/index';
import { serveDirectory, type RepoServer } from '../../helpers/http-server';
import { assertHealthy, cleanup, makeClient, makeServedRepo, originRef } from '../pull/fixture';

function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const ssl = (args: string[], cwd: string): string => execFileSync('openssl', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

/** A CA, and a certificate for `name` signed by it (EC P-256, SAN 127.0.0.1). */
function makePki(dir: string, prefix: string): void {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  ssl(['req', '-x509', ...ec, '-keyout', `${prefix}-ca.key`, '-out', `${prefix}-ca.pem`, '-days', '2', '-subj', `/CN=${prefix} test CA`], dir);
  for (const leaf of ['server', 'client']) {
    ssl(['req', ...ec, '-keyout', `${prefix}-${leaf}.key`, '-out', `${prefix}-${leaf}.csr`, '-subj', `/CN=${prefix} ${leaf}`], dir);
    const ext = leaf === 'server' ? 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' : 'extendedKeyUsage=clientAuth\n';
    writeFileSync(join(dir, `${prefix}-${leaf}.ext`), ext);
    ssl(['x509', '-req', '-in', `${prefix}-${leaf}.csr`, '-CA', `${prefix}-ca.pem`, '-CAkey', `${prefix}-ca.key`, '-CAcreateserial', '-days', '2', '-out', `${prefix}-${leaf}.pem`, '-extfile', `${prefix}-${leaf}.ext`], dir);
  }
}

describe('transport/tls (private CA, pins, client certificates)', function () {
  let dir: string;
  let site: string;
  let srv: RepoServer;
  let mtls: RepoServer;
  let otherSrv: RepoServer;
  const f = (n: string): string => join(dir, n);

  before(async function () {
    if (!hasOpenssl()) this.skip(); // needs the Debian package openssl
    this.timeout(20000);
    dir = mkdtempSync(join(tmpdir(), 'canopy-tls-'));
    makePki(dir, 'good');
    makePki(dir, 'other');
    site = join(dir, 'site');
    mkdirSync(site);
    writeFileSync(join(site, 'hello'), 'hello over TLS\n');
    const tls = (p: string) => ({ key: readFileSync(f(`${p}-server.key`)), cert: readFileSync(f(`${p}-server.pem`)) });
    srv = await serveDirectory(site, { tls: tls('good') });
    otherSrv = await serveDirectory(site, { tls: tls('other') });
    mtls = await serveDirectory(site, { tls: { ...tls('good'), ca: readFileSync(f('good-ca.pem')), requireClientCert: true } });
  });
  after(async () => {
    await srv?.close();
    await otherSrv?.close();
    await mtls?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function get(url: string, opts: TransportOptions): Promise<string> {
    const client = createUndiciClient({ ...opts, env: {} });
    try {
      const res = await client.get({ url: `${url}hello` });
      assert.equal(res.status, 200);
      return (await readBody(res, 1024, 'hello')).toString();
    } finally {
      await client.close();
    }
  }

  async function refused(url: string, opts: TransportOptions, codes = ['ERR_TLS'], re?: RegExp): Promise<void> {
    await assert.rejects(get(url, opts), (e) => isCanopyError(e) && codes.includes(e.code) && (!re || re.test(e.message)) && e.details.transient !== true);
  }

  const pinOf = (name: string): string => spkiSha256(new X509Certificate(readFileSync(f(name))).raw);

  it('computes the pin as openssl does (sha256 of the DER SubjectPublicKeyInfo, base64)', () => {
    const pub = ssl(['x509', '-in', 'good-server.pem', '-pubkey', '-noout'], dir);
    writeFileSync(f('pub.pem'), pub);
    const der = execFileSync('openssl', ['pkey', '-pubin', '-in', 'pub.pem', '-outform', 'der'], { cwd: dir });
    const expected = createHash('sha256').update(der).digest('base64');
    assert.equal(pinOf('good-server.pem'), expected);
  });

  it('trusts the configured CA and refuses an unknown one', async () => {
    assert.equal(await get(srv.url, { caPath: f('good-ca.pem') }), 'hello over TLS\n');
    await refused(srv.url, {}, ['ERR_TLS'], /TLS verification failed/);
    await refused(srv.url, { caPath: f('other-ca.pem') });
    await refused(otherSrv.url, { caPath: f('good-ca.pem') });
  });

  it('checks SPKI pins: a match passes, a mismatch fails even with a trusted CA', async () => {
    assert.equal(await get(srv.url, { caPath: f('good-ca.pem'), pinnedSpki: [pinOf('other-server.pem'), pinOf('good-server.pem')] }), 'hello over TLS\n');
    await refused(srv.url, { caPath: f('good-ca.pem'), pinnedSpki: [pinOf('other-server.pem')] }, ['ERR_TLS'], /pinned|pin/);
    // Pinning alone (tls-permissive: no CA check) still refuses the wrong key.
    assert.equal(await get(otherSrv.url, { tlsPermissive: true, pinnedSpki: [pinOf('other-server.pem')] }), 'hello over TLS\n');
    await refused(otherSrv.url, { tlsPermissive: true, pinnedSpki: [pinOf('good-server.pem')] }, ['ERR_TLS'], /pin/);
  });

  it('presents a client certificate to a server that requires one', async () => {
    assert.equal(await get(mtls.url, { caPath: f('good-ca.pem'), clientCertPath: f('good-client.pem'), clientKeyPath: f('good-client.key') }), 'hello over TLS\n');
    await assert.rejects(get(mtls.url, { caPath: f('good-ca.pem') }), (e) => isCanopyError(e) && ['ERR_TLS', 'ERR_NETWORK'].includes(e.code));
    await assert.rejects(get(mtls.url, { caPath: f('good-ca.pem'), clientCertPath: f('other-client.pem'), clientKeyPath: f('other-client.key') }), (e) => isCanopyError(e) && ['ERR_TLS', 'ERR_NETWORK'].includes(e.code));
    assert.throws(() => createUndiciClient({ clientCertPath: f('good-client.pem') }), (e) => isCanopyError(e, 'ERR_CONFIG_INVALID'));
    assert.throws(() => createUndiciClient({ caPath: f('missing.pem') }), (e) => isCanopyError(e, 'ERR_CONFIG_INVALID'));
  });

  it('pulls over HTTPS with tls-ca-path and tls-pinned-spki from the remote config', async () => {
    const s = await makeServedRepo({ files: 6 });
    const https = await serveDirectory(s.path, { tls: { key: readFileSync(f('good-server.key')), cert: readFileSync(f('good-server.pem')) } });
    try {
      const c = makeClient(s.dir, https.url, 'bare-user-only', { noGpgVerify: true, set: [['tls-ca-path', f('good-ca.pem')], ['tls-pinned-spki', pinOf('good-server.pem')]] });
      await pull(c, 'origin', ['main'], { retries: 0 });
      assert.equal(originRef(c), s.v2);
      await assertHealthy(c);
      const bad = makeClient(s.dir, https.url, 'bare-user-only', { noGpgVerify: true, set: [['tls-ca-path', f('good-ca.pem')], ['tls-pinned-spki', pinOf('other-server.pem')]] });
      https.resetLog();
      const t0 = Date.now();
      await assert.rejects(pull(bad, 'origin', ['main'], { retries: 3, retryBaseMs: 2000, random: () => 1 }), (e) => isCanopyError(e, 'ERR_TLS'));
      assert.ok(Date.now() - t0 < 2000, 'a TLS failure is not retried');
      assert.equal(https.log.length, 0, 'no request got through');
    } finally {
      await https.close();
      cleanup(s.dir);
    }
  });
});
