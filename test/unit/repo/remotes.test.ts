/**
 * Remotes in the repository config, checked against the real `ostree`:
 * what we write it lists, what it writes we read, byte for byte the same
 * config for the same `remote add`.
 */
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isCanopyError } from '../../../agent/src/core/errors';
import { Repo } from '../../../agent/src/repo/index';
import { addRemote, deleteRemote, getRemote, listRemotes, remoteKeyringPath, setRemoteOption } from '../../../agent/src/repo/remotes';

function hasOstree(): boolean {
  try {
    execFileSync('ostree', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('repo/remotes', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'canopy-remotes-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('adds, reads with defaults, lists and deletes remotes', () => {
    const repo = Repo.init(join(dir, 'r'), { mode: 'bare-user-only' });
    addRemote(repo, 'origin', 'https://updates.example.com/repo', { branches: ['os/main', 'os/devel'], set: [['contenturl', 'https://cdn.example.com/repo'], ['tls-pinned-spki', `${'A'.repeat(43)}=;${'B'.repeat(43)}=`]] });
    addRemote(repo, 'usb', 'file:///media/usb/repo', { noGpgVerify: true });
    assert.deepEqual(listRemotes(repo), ['origin', 'usb']);
    const o = getRemote(Repo.open(repo.path), 'origin');
    assert.equal(o.url, 'https://updates.example.com/repo');
    assert.equal(o.contentUrl, 'https://cdn.example.com/repo');
    assert.deepEqual(o.branches, ['os/main', 'os/devel']);
    assert.equal(o.gpgVerify, true, 'gpg-verify defaults to true');
    assert.equal(o.gpgVerifySummary, false);
    assert.equal(o.signVerify, false);
    assert.deepEqual(o.tlsPinnedSpki, [`${'A'.repeat(43)}=`, `${'B'.repeat(43)}=`]);
    const u = getRemote(repo, 'usb');
    assert.equal(u.gpgVerify, false);
    assert.equal(u.contentUrl, u.url);
    assert.equal(addRemote(repo, 'usb', 'file:///x', { ifNotExists: true }), false);
    assert.throws(() => addRemote(repo, 'usb', 'file:///x'), (e) => isCanopyError(e, 'ERR_REMOTE_EXISTS'));
    setRemoteOption(repo, 'usb', 'sign-verify', 'ed25519;spki');
    assert.deepEqual(getRemote(repo, 'usb').signVerify, ['ed25519', 'spki']);
    writeFileSync(remoteKeyringPath(repo, 'usb'), 'keys');
    assert.equal(deleteRemote(repo, 'usb'), true);
    assert.equal(existsSync(remoteKeyringPath(repo, 'usb')), false, 'the keyring goes with the remote');
    assert.equal(deleteRemote(repo, 'usb', { ifExists: true }), false);
    assert.throws(() => getRemote(repo, 'usb'), (e) => isCanopyError(e, 'ERR_REMOTE_NOT_FOUND'));
    assert.throws(() => addRemote(repo, 'a/b', 'x'), (e) => isCanopyError(e, 'ERR_REF_INVALID'));
    setRemoteOption(repo, 'origin', 'tls-pinned-spki', 'short');
    assert.throws(() => getRemote(repo, 'origin'), (e) => isCanopyError(e, 'ERR_CONFIG_INVALID'));
    setRemoteOption(repo, 'origin', 'tls-pinned-spki', undefined);
    setRemoteOption(repo, 'origin', 'gpg-verify', 'maybe');
    assert.throws(() => getRemote(repo, 'origin'), (e) => isCanopyError(e, 'ERR_CONFIG_INVALID'));
  });

  describe('with the real ostree', function () {
    before(function () {
      if (!hasOstree()) this.skip(); // needs the Debian package ostree
    });

    it('writes the same config as `ostree remote add` for the same options', () => {
      const ours = Repo.init(join(dir, 'ours'), { mode: 'bare-user-only' });
      const theirs = join(dir, 'theirs');
      execFileSync('ostree', [`--repo=${theirs}`, 'init', '--mode=bare-user-only']);
      addRemote(ours, 'a', 'http://example.com/repo', { branches: ['main', 'foo'], set: [['gpg-verify-summary', 'true'], ['contenturl', 'http://cdn/']] });
      addRemote(ours, 'b', 'file:///srv/repo', { noGpgVerify: true, set: [['tls-ca-path', '/etc/ca.pem']] });
      execFileSync('ostree', [`--repo=${theirs}`, 'remote', 'add', '--set=gpg-verify-summary=true', '--set=contenturl=http://cdn/', 'a', 'http://example.com/repo', 'main', 'foo']);
      execFileSync('ostree', [`--repo=${theirs}`, 'remote', 'add', '--no-gpg-verify', '--set=tls-ca-path=/etc/ca.pem', 'b', 'file:///srv/repo']);
      assert.equal(readFileSync(join(ours.path, 'config'), 'utf8'), readFileSync(join(theirs, 'config'), 'utf8'));
    });

    it('ostree lists and shows what we wrote; we read and delete what ostree wrote', () => {
      const repo = Repo.init(join(dir, 'r'), { mode: 'archive' });
      addRemote(repo, 'origin', 'https://updates.example.com/repo', { noGpgVerify: true });
      addRemote(repo, 'x', 'file:///srv/x');
      assert.equal(execFileSync('ostree', [`--repo=${repo.path}`, 'remote', 'list', '-u'], { encoding: 'utf8' }), 'origin  https://updates.example.com/repo\nx       file:///srv/x\n');
      assert.equal(execFileSync('ostree', [`--repo=${repo.path}`, 'remote', 'show-url', 'origin'], { encoding: 'utf8' }), 'https://updates.example.com/repo\n');
      execFileSync('ostree', [`--repo=${repo.path}`, 'remote', 'add', '--no-gpg-verify', '--set=contenturl=https://cdn.example.com/', 'theirs', 'https://example.org/', 'os/main']);
      const t = getRemote(Repo.open(repo.path), 'theirs');
      assert.deepEqual([t.url, t.contentUrl, t.gpgVerify, t.branches], ['https://example.org/', 'https://cdn.example.com/', false, ['os/main']]);
      deleteRemote(Repo.open(repo.path), 'x');
      assert.equal(execFileSync('ostree', [`--repo=${repo.path}`, 'remote', 'list'], { encoding: 'utf8' }), 'origin\ntheirs\n');
    });
  });
});
