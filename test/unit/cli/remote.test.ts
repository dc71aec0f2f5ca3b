import { strict as assert } from 'node:assert';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { canopy, cleanup, ensureBuilt, hasOstree, initRepo, ok, ostree, tempDir } from './cli-harness';

describe('canopy remote', function () {
  let dir: string;
  before(() => {
    ensureBuilt();
    dir = tempDir();
  });
  after(cleanup);

  it('adds, lists, shows and deletes remotes; errors have exit codes', () => {
    const repo = initRepo(dir, 'bare-user-only', 'r1');
    ok(canopy(['remote', 'add', `--repo=${repo}`, '--no-gpg-verify', '--set=contenturl=https://cdn.example.com/', 'origin', 'https://example.com/repo', 'os/main']));
    ok(canopy([`--repo=${repo}`, 'remote', 'add', 'usb', 'file:///media/usb/repo']));
    assert.equal(ok(canopy(['remote', 'list', `--repo=${repo}`])).stdout, 'origin\nusb\n');
    assert.equal(ok(canopy(['remote', 'list', '-u', `--repo=${repo}`])).stdout, 'origin  https://example.com/repo\nusb     file:///media/usb/repo\n');
    assert.deepEqual(ok(canopy(['--json', `--repo=${repo}`, 'remote', 'list'])).json(), { remotes: [{ name: 'origin', url: 'https://example.com/repo' }, { name: 'usb', url: 'file:///media/usb/repo' }] });
    assert.equal(ok(canopy(['remote', 'show-url', `--repo=${repo}`, 'origin'])).stdout, 'https://example.com/repo\n');
    const config = readFileSync(join(repo, 'config'), 'utf8');
    assert.match(config, /\[remote "origin"\]\nurl=https:\/\/example.com\/repo\nbranches=os\/main;\ncontenturl=https:\/\/cdn.example.com\/\ngpg-verify=false\n/);
    const dup = canopy(['remote', 'add', `--repo=${repo}`, 'usb', 'file:///x']);
    assert.equal(dup.status, 1);
    assert.match(dup.stderr, /already exists/);
    ok(canopy(['remote', 'add', `--repo=${repo}`, '--if-not-exists', 'usb', 'file:///x']));
    ok(canopy(['remote', 'delete', `--repo=${repo}`, 'usb']));
    assert.equal(canopy(['remote', 'delete', `--repo=${repo}`, 'usb']).status, 3, 'a missing remote exits with the not-found status');
    ok(canopy(['remote', 'delete', `--repo=${repo}`, '--if-exists', 'usb']));
    assert.equal(canopy(['remote', 'frobnicate', `--repo=${repo}`]).status, 2);
    assert.equal(canopy(['remote', 'add', `--repo=${repo}`, 'only-a-name']).status, 2);
    assert.match(ok(canopy(['remote', '--help'])).stdout, /show-url/);
  });

  it('imports keys with --gpg-import and leaves no remote behind when the key file is bad', () => {
    const repo = initRepo(dir, 'bare-user-only', 'r2');
    writeFileSync(join(dir, 'bad.asc'), 'not a key');
    const r = canopy(['remote', 'add', `--repo=${repo}`, '--gpg-import', join(dir, 'bad.asc'), 'origin', 'https://example.com/']);
    assert.notEqual(r.status, 0);
    assert.equal(ok(canopy(['remote', 'list', `--repo=${repo}`])).stdout, '');
    assert.equal(existsSync(join(repo, 'origin.trustedkeys.gpg')), false);
  });

  it('ostree reads what canopy wrote and the reverse', function () {
    if (!hasOstree()) this.skip(); // needs the Debian package ostree
    const repo = initRepo(dir, 'archive', 'r3');
    ok(canopy(['remote', 'add', `--repo=${repo}`, '--no-gpg-verify', 'a', 'https://a.example/']));
    ok(ostree([`--repo=${repo}`, 'remote', 'add', '--no-gpg-verify', 'b', 'https://b.example/']));
    assert.equal(ok(ostree([`--repo=${repo}`, 'remote', 'list', '-u'])).stdout, ok(canopy(['remote', 'list', '-u', `--repo=${repo}`])).stdout);
  });
});
