import { strict as assert } from 'node:assert';
import { canopy, cleanup, commitJson, ensureBuilt, hasSetfattr, initRepo, makeTree, ok, tempDir } from './cli-harness';

describe('canopy ls and cat', function () {
  let repo: string;
  let bareUser: string;
  before(() => {
    ensureBuilt();
    const dir = tempDir();
    const tree = makeTree(dir);
    repo = initRepo(dir, 'archive');
    commitJson(repo, tree, ['-b', 'main']);
    bareUser = initRepo(dir, 'bare-user-only', 'bu');
    commitJson(bareUser, tree, ['-b', 'main']);
  });
  after(cleanup);

  it('lists / and its entries, files before directories, as ostree ls does', () => {
    const uid = process.getuid!();
    const gid = process.getgid!();
    assert.equal(ok(canopy(['ls', `--repo=${repo}`, 'main'])).stdout, [
      `d00755 ${uid} ${gid}      0 /`,
      `-00644 ${uid} ${gid}      0 /empty`,
      `-00644 ${uid} ${gid}      6 /hello.txt`,
      `l00777 ${uid} ${gid}      0 /link -> hello.txt`,
      `d00755 ${uid} ${gid}      0 /etc`,
      `d00755 ${uid} ${gid}      0 /usr`,
      '',
    ].join('\n'));
  });

  it('lists recursively (-R), a directory itself (-d), several paths, with checksums (-C)', () => {
    const rec = ok(canopy(['ls', `--repo=${bareUser}`, '-R', 'main'])).stdout.split('\n').filter(Boolean);
    assert.deepEqual(rec.map((l) => l.replace(/^\S+ \d+ \d+ +\d+ /, '')), [
      '/', '/empty', '/hello.txt', '/link -> hello.txt', '/etc', '/etc/os-release', '/usr', '/usr/bin', '/usr/bin/tool',
    ]);
    assert.match(rec[8], /^-00755 0 0 {5}20 \/usr\/bin\/tool$/, 'bare-user-only: canonical owner, mode kept');
    assert.equal(ok(canopy(['ls', `--repo=${repo}`, '-d', 'main', '/usr'])).stdout.split('\n').length, 2);
    const two = ok(canopy(['ls', `--repo=${repo}`, 'main', 'usr/bin', '/etc/os-release'])).stdout.split('\n').filter(Boolean);
    assert.deepEqual(two.map((l) => l.split(' ').pop()), ['/usr/bin', '/usr/bin/tool', '/etc/os-release']);
    const sums = ok(canopy(['ls', `--repo=${repo}`, '-C', '-d', 'main', '/', '/hello.txt'])).stdout.split('\n');
    assert.match(sums[0], /^d00755 \d+ \d+ {6}0 [0-9a-f]{64} [0-9a-f]{64} \/$/);
    assert.match(sums[1], /^-00644 \d+ \d+ {6}6 [0-9a-f]{64} \/hello.txt$/);
  });

  it('prints extended attributes with -X in GVariant text, as ostree ls -X', function () {
    if (!hasSetfattr()) this.skip();
    const out = ok(canopy(['ls', `--repo=${repo}`, '-X', 'main', '/hello.txt', '/empty'])).stdout.split('\n');
    assert.match(out[0], / \{ \[\(b'user\.canopy', \[byte 0x79, 0x65, 0x73\]\)\] \} \/hello\.txt$/);
    assert.match(out[1], / \{ @a\(ayay\) \[\] \} \/empty$/);
    const j = ok(canopy(['ls', `--repo=${repo}`, '--json', '-X', 'main', '/hello.txt'])).json();
    assert.deepEqual(j.entries[0].xattrs, [{ name: 'user.canopy', value: Buffer.from('yes').toString('hex') }]);
  });

  it('--json gives typed entries', () => {
    const j = ok(canopy(['ls', `--repo=${repo}`, '--json', '-R', 'main', '/usr'])).json();
    assert.deepEqual(j.entries.map((e: { path: string; type: string }) => [e.path, e.type]), [['/usr', 'dir'], ['/usr/bin', 'dir'], ['/usr/bin/tool', 'file']]);
    const tool = j.entries[2];
    assert.equal(tool.mode, 0o755);
    assert.equal(tool.size, 20);
    assert.match(tool.checksum, /^[0-9a-f]{64}$/);
    assert.match(j.entries[0].metaChecksum, /^[0-9a-f]{64}$/);
    const link = ok(canopy(['ls', `--repo=${repo}`, '--json', '-d', 'main', '/link'])).json().entries[0];
    assert.deepEqual([link.type, link.target, link.size], ['symlink', 'hello.txt', 0]);
  });

  it('--nul-filenames-only prints NUL-terminated paths', () => {
    assert.equal(ok(canopy(['ls', `--repo=${repo}`, '--nul-filenames-only', 'main', '/etc'])).stdout, '/etc\0/etc/os-release\0');
  });

  it('a path that is not in the commit exits 3', () => {
    const r = canopy(['ls', `--repo=${repo}`, 'main', '/nope/x']);
    assert.equal(r.status, 3);
    assert.match(r.stderr, /no such file or directory: \/nope/);
    assert.equal(canopy(['ls', `--repo=${repo}`, 'main', '/hello.txt/x']).status, 3);
  });

  it('cat writes file contents, verified, in order; refuses directories and symlinks', () => {
    for (const r of [repo, bareUser]) {
      assert.equal(ok(canopy(['cat', `--repo=${r}`, 'main', '/hello.txt', 'etc/os-release', '/empty'])).stdout, 'hello\nNAME=Canopy\nVERSION_ID=1\n');
    }
    const dir = canopy(['cat', `--repo=${repo}`, 'main', '/hello.txt', '/usr']);
    assert.equal(dir.status, 2);
    assert.equal(dir.stdout, '', 'nothing is written when any path is bad');
    assert.match(dir.stderr, /\/usr is a directory/);
    assert.match(canopy(['cat', `--repo=${repo}`, 'main', '/link']).stderr, /\/link is a symbolic link to hello\.txt/);
    assert.equal(canopy(['cat', `--repo=${repo}`, 'main', '/missing']).status, 3);
  });
});
