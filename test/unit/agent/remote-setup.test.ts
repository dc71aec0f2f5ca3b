/** The agent's remote in the repository config: keys from the key files (revoked ones left out), never verification off. */
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { remoteOptions, syncRemote } from '../../../agent/src/agent/remote-setup';
import { getRemote } from '../../../agent/src/repo/remotes';
import { Repo } from '../../../agent/src/repo/index';
import { encodeEd25519Key, generateEd25519KeyPair } from '../../../agent/src/sign/index';

describe('agent/remote-setup', () => {
  let dir = '';
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'canopy-remote-')); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const remote = (keys: { ed25519?: string[]; ed25519Revoked?: string[]; openpgp?: string[] }) => ({
    name: 'canopy', url: 'https://updates.example/repo', ref: 'acme/stable',
    keys: { ed25519: keys.ed25519 ?? [], ed25519Revoked: keys.ed25519Revoked ?? [], openpgp: keys.openpgp ?? [] }, tls: {},
  });

  it('writes ed25519 keys minus the revoked ones, and rewrites only on change', () => {
    const a = generateEd25519KeyPair();
    const b = generateEd25519KeyPair();
    writeFileSync(join(dir, 'trusted'), `${encodeEd25519Key(a.publicKey)}\n${encodeEd25519Key(b.publicKey)}\n`);
    writeFileSync(join(dir, 'revoked'), `${encodeEd25519Key(b.publicKey)}\n`);
    const repo = Repo.init(join(dir, 'repo'), { mode: 'bare-user-only' });
    const r = remote({ ed25519: [join(dir, 'trusted')], ed25519Revoked: [join(dir, 'revoked')] });
    assert.equal(syncRemote(repo, r), true);
    assert.equal(syncRemote(repo, r), false);
    const got = getRemote(Repo.open(repo.path), 'canopy');
    assert.equal(got.url, 'https://updates.example/repo');
    assert.deepEqual(got.signVerify, ['ed25519']);
    assert.deepEqual(got.ed25519Keys, [encodeEd25519Key(a.publicKey)]);
    assert.equal(got.gpgVerify, false);
    assert.equal(syncRemote(repo, { ...r, url: 'https://other.example/repo' }), true);
    assert.equal(getRemote(Repo.open(repo.path), 'canopy').url, 'https://other.example/repo');
  });

  it('without any key, OpenPGP verification stays on (every commit is refused, never accepted unsigned)', () => {
    assert.deepEqual(remoteOptions(remote({})), [['url', 'https://updates.example/repo'], ['gpg-verify', 'true']]);
    assert.deepEqual(remoteOptions(remote({ openpgp: ['/k.gpg', '/l.gpg'] })).slice(1), [['gpg-verify', 'true'], ['gpgkeypath', '/k.gpg;/l.gpg']]);
  });
});
