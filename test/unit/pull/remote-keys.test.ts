/**
 * `remote add --gpg-import`: keys go into `<repo>/<remote>.trustedkeys.gpg`
 * as binary packets, once each; secret keys and garbage are refused; a
 * pull then trusts exactly those keys.
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isCanopyError } from '../../../agent/src/core/errors';
import { ObjectType } from '../../../agent/src/objects/index';
import { dearmor, importRemoteGpgKeys, pull, splitKeys } from '../../../agent/src/pull/index';
import { Repo } from '../../../agent/src/repo/index';
import { addRemote, remoteKeyringPath } from '../../../agent/src/repo/remotes';
import { addSignature, GPG_SIGNATURES_KEY, readOpenPgpKeyring, serializeDetachedMetadata, signOpenPgp } from '../../../agent/src/sign/index';
import { serveDirectory } from '../../helpers/http-server';
import { gpgOracle, hasGpg, type GpgOracle } from '../sign/gpg-oracle';
import { cleanup, makeServedRepo, originRef } from './fixture';

describe('pull/remote-keys (with GnuPG as the key source)', function () {
  let g: GpgOracle;
  let dir: string;

  before(async function () {
    if (!hasGpg()) this.skip(); // needs the Debian package gnupg
    this.timeout(30000);
    g = await gpgOracle();
  });
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'canopy-keys-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('imports armoured and binary public keys once each, as a binary keyring', async () => {
    const repo = Repo.init(join(dir, 'r'), { mode: 'bare-user-only' });
    addRemote(repo, 'origin', 'http://example.com/');
    const a = await importRemoteGpgKeys(repo, 'origin', [{ source: 'a.asc', data: await g.exportPublic(['A'], true) }]);
    assert.deepEqual(a.imported, [g.keys.A.fpr]);
    const ring = readFileSync(remoteKeyringPath(repo, 'origin'));
    assert.equal(ring[0] & 0x80, 0x80, 'binary packets, not armour');
    const b = await importRemoteGpgKeys(repo, 'origin', [{ source: 'ab.gpg', data: await g.exportPublic(['A', 'B']) }]);
    assert.deepEqual(b.imported, [g.keys.B.fpr], 'A is not added twice');
    const keys = (await readOpenPgpKeyring([{ source: 'ring', data: readFileSync(remoteKeyringPath(repo, 'origin')) }])).list();
    assert.deepEqual(keys.map((k) => k.fingerprint).sort(), [g.keys.A.fpr, g.keys.B.fpr].sort());
    assert.equal(splitKeys(readFileSync(remoteKeyringPath(repo, 'origin')), 'ring').length, 2);
  });

  it('refuses secret keys, garbage, truncated packets and an unknown remote', async () => {
    const repo = Repo.init(join(dir, 'r'), { mode: 'bare-user-only' });
    addRemote(repo, 'origin', 'http://example.com/');
    const refuses = async (data: Uint8Array | string, re: RegExp): Promise<void> => {
      await assert.rejects(importRemoteGpgKeys(repo, 'origin', [{ source: 'k', data }]), (e) => isCanopyError(e, 'ERR_CONFIG_INVALID') && re.test(e.message));
    };
    await refuses(await g.exportSecret('A', true), /secret key/);
    await refuses('hello, this is not a key', /not an OpenPGP packet|holds no/);
    const bin = await g.exportPublic(['A']);
    await refuses(bin.subarray(0, bin.length - 10), /runs past the end/);
    await refuses('-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n!!!!\n-----END PGP PUBLIC KEY BLOCK-----\n', /base64/);
    await assert.rejects(importRemoteGpgKeys(repo, 'nope', [{ source: 'k', data: bin }]), (e) => isCanopyError(e, 'ERR_REMOTE_NOT_FOUND'));
    assert.ok(dearmor(await g.exportPublic(['A'], true), 'a').equals(bin), 'dearmor gives the binary export');
  });

  it('a gpg-verify remote pulls a commit signed by an imported key and refuses other signers', async () => {
    const s = await makeServedRepo({ files: 4 });
    const srv = await serveDirectory(s.path);
    try {
      const bytes = s.repo.readMetadataBytes(ObjectType.COMMIT, s.v2);
      const metaPath = `/objects/${s.v2.slice(0, 2)}/${s.v2.slice(2)}.commitmeta`;
      const client = (name: string): Repo => {
        const r = Repo.init(join(dir, name), { mode: 'bare-user-only' });
        addRemote(r, 'origin', srv.url);
        return r;
      };
      const c = client('good');
      await importRemoteGpgKeys(c, 'origin', [{ source: 'a.asc', data: await g.exportPublic(['A'], true) }]);
      srv.override(metaPath, serializeDetachedMetadata(addSignature([], GPG_SIGNATURES_KEY, await signOpenPgp(bytes, await g.exportSecret('A')))));
      const r = await pull(c, 'origin', ['main'], { retries: 0 });
      assert.equal(r.verified, true);
      assert.equal(originRef(c), s.v2);

      const u = client('unknown');
      await importRemoteGpgKeys(u, 'origin', [{ source: 'a.asc', data: await g.exportPublic(['A'], true) }]);
      srv.override(metaPath, serializeDetachedMetadata(addSignature([], GPG_SIGNATURES_KEY, await g.sign('U', bytes))));
      await assert.rejects(pull(u, 'origin', ['main'], { retries: 0 }), (e) => isCanopyError(e, 'ERR_KEY_UNTRUSTED'));
      assert.equal(u.hasObject(s.v2, ObjectType.COMMIT), false);
    } finally {
      await srv.close();
      cleanup(s.dir);
    }
  });
});
