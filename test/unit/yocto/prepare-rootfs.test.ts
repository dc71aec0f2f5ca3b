/**
 * yocto-layer/scripts/canopy-prepare-rootfs: the deployment layout it makes from an
 * OpenEmbedded-shaped root filesystem, the commit through the built canopy CLI (read
 * back with canopy and the real ostree), the canopy commands it runs for signing,
 * deltas and the summary, and the inputs it refuses.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { createPublicKey, verify } from 'node:crypto';
import { chmodSync, existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, ensureBuilt } from '../cli/cli-harness';
import { fakeCanopy, have, isRoot, ls, makeRootfs, runScript, tempDir } from './rootfs-fixture';

/**
 * The first `ay` of GLib's text form of an `aay`: `[[byte 0x12, …]]`, or a
 * bytestring `[b"…"]` when the bytes happen to end in their only NUL (GLib
 * then prints C escapes and leaves the NUL implied).
 */
function firstByteArray(text: string): Buffer {
  const str = /b(["'])((?:\\.|(?!\1)[^\\])*)\1/.exec(text);
  if (!str) return Buffer.from([...text.matchAll(/0x([0-9a-f]{2})/g)].map((m) => parseInt(m[1], 16)));
  const simple: Record<string, number> = { a: 7, b: 8, f: 12, n: 10, r: 13, t: 9, v: 11 };
  const out: number[] = [];
  const body = Buffer.from(str[2], 'latin1');
  for (let i = 0; i < body.length; i++) {
    if (body[i] !== 0x5c) {
      out.push(body[i]);
      continue;
    }
    const c = String.fromCharCode(body[++i]);
    const oct = /^[0-7]{1,3}/.exec(body.subarray(i, i + 3).toString('latin1'));
    if (oct) {
      out.push(parseInt(oct[0], 8));
      i += oct[0].length - 1;
    } else out.push(simple[c] ?? c.charCodeAt(0));
  }
  out.push(0);
  return Buffer.from(out);
}

const SCRIPT = 'canopy-prepare-rootfs';
const CANOPY = `${process.execPath} ${CLI}`;

function canopyRun(args: string[]): string {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
  assert.equal(r.status, 0, `canopy ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

describe('yocto-layer: canopy-prepare-rootfs', function () {
  let tmp: { dir: string; cleanup: () => void };
  let rootfs: string;

  before(function () {
    if (!have('find', ['--version']) || !spawnSync('find', ['--version'], { encoding: 'utf8' }).stdout.includes('GNU')) {
      this.skip(); // GNU find (-printf) is what the build host has
    }
    ensureBuilt();
  });
  beforeEach(() => {
    tmp = tempDir('canopy-yocto-prepare-');
    rootfs = join(tmp.dir, 'rootfs');
    makeRootfs(rootfs);
  });
  afterEach(() => tmp.cleanup());

  it('lays the tree out as a deployment: /usr/etc, the /var seed, links into /var, the kernel in /usr/lib/modules', () => {
    const tree = join(tmp.dir, 'tree');
    const report = join(tmp.dir, 'report.txt');
    const r = runScript(SCRIPT, ['--report', report, rootfs, tree]);
    assert.equal(r.status, 0, r.stderr);

    assert.ok(!existsSync(join(tree, 'etc')));
    assert.equal(readFileSync(join(tree, 'usr/etc/hostname'), 'utf8'), 'canopy-board\n');
    assert.equal(readlinkSync(join(tree, 'usr/etc/os-release')), '../usr/lib/os-release');

    // the kernel, its initramfs and device trees; nothing else left in /boot
    const k = join(tree, 'usr/lib/modules/6.1.0');
    assert.equal(readFileSync(join(k, 'vmlinuz'), 'utf8'), 'KERNEL');
    assert.equal(readFileSync(join(k, 'initramfs.img'), 'utf8'), 'INITRD');
    assert.equal(readFileSync(join(k, 'dtb/board.dtb'), 'utf8'), 'DTB');
    assert.equal(readFileSync(join(k, 'dtb/overlays/extra.dtbo'), 'utf8'), 'DTBO');
    assert.equal(readFileSync(join(k, 'kernel/a.ko'), 'utf8'), 'module');
    assert.deepEqual(ls(join(tree, 'boot')), []);
    assert.match(r.stderr, /dropping from \/boot.*\/boot\/u-boot\.bin/);

    // links into /var and /run, /var itself empty
    for (const [path, target] of [['home', 'var/home'], ['root', 'var/roothome'], ['srv', 'var/srv'], ['mnt', 'var/mnt'], ['media', 'run/media'], ['usr/local', '../var/usrlocal'], ['ostree', 'sysroot/ostree']]) {
      assert.equal(readlinkSync(join(tree, path)), target, `/${path}`);
    }
    assert.deepEqual(ls(join(tree, 'var')), []);
    assert.ok(statSync(join(tree, 'sysroot')).isDirectory());
    for (const d of ['tmp', 'run', 'dev', 'proc', 'sys']) assert.deepEqual(ls(join(tree, d)), [], `/${d}`);
    assert.equal(statSync(join(tree, 'tmp')).mode & 0o7777, 0o1777);

    // the /var seed: tmpfiles.d lines with numeric owners, files under usr/share/factory/var
    const uid = process.getuid!();
    const gid = process.getgid!();
    const lines = readFileSync(join(tree, 'usr/lib/tmpfiles.d/canopy-var.conf'), 'utf8').split('\n');
    for (const want of [
      'd /run/media 0755 0 0 -',
      `d /var/home/user 0755 ${uid} ${gid} -`,
      'C /var/home/user/.profile - - - - /usr/share/factory/var/home/user/.profile',
      `d /var/lib/app 0750 ${uid} ${gid} -`,
      'C /var/lib/app/state.db - - - - /usr/share/factory/var/lib/app/state.db',
      'C /var/lib/dbus/machine-id - - - - /usr/share/factory/var/lib/dbus/machine-id',
      `d /var/roothome 0700 ${uid} ${gid} -`,
      'C /var/roothome/.bashrc - - - - /usr/share/factory/var/roothome/.bashrc',
      'L /var/run - - - - ../run',
      'L /var/tmp - - - - volatile/tmp',
      `d /var/volatile 0755 ${uid} ${gid} -`,
    ]) {
      assert.ok(lines.includes(want), `missing tmpfiles line: ${want}\n${lines.join('\n')}`);
    }
    const seed = join(tree, 'usr/share/factory/var');
    assert.equal(readFileSync(join(seed, 'lib/app/state.db'), 'utf8'), 'state');
    assert.equal(statSync(join(seed, 'lib/app/state.db')).mode & 0o777, 0o600);
    assert.equal(readFileSync(join(seed, 'home/user/.profile'), 'utf8'), 'export A=1\n');

    // the source tree is untouched
    assert.ok(existsSync(join(rootfs, 'etc/hostname')) && existsSync(join(rootfs, 'boot/vmlinuz-6.1.0')));

    // what a non-root reader would get wrong: anything not owned by root, the 1777 /tmp
    const rep = readFileSync(report, 'utf8');
    assert.match(rep, /^1777 \d+ \d+ \/tmp$/m);
    if (isRoot) assert.equal(rep.trim().split('\n').length, 1, rep);
    else assert.match(rep, new RegExp(`^755 ${uid} ${gid} /usr/bin/tool$`, 'm'));
  });

  it('commits the tree with the canopy CLI; canopy and ostree read the layout back', function () {
    const tree = join(tmp.dir, 'tree');
    const repo = join(tmp.dir, 'repo');
    const idFile = join(tmp.dir, 'commit-id');
    const r = runScript(SCRIPT, ['--repo', repo, '--branch', 'sample/qemuarm64/minimal', '--subject', 'Sample OS 1.0',
      '--version', '1.0', '--timestamp', '@1700000000', '--owner-root', '--summary', '--commit-id-file', idFile, '--canopy', CANOPY, rootfs, tree]);
    assert.equal(r.status, 0, r.stderr);
    const commit = readFileSync(idFile, 'utf8').trim();
    assert.match(commit, /^[0-9a-f]{64}$/);
    assert.equal(canopyRun(['rev-parse', `--repo=${repo}`, 'sample/qemuarm64/minimal']).trim(), commit);
    assert.ok(existsSync(join(repo, 'summary')), 'summary -u ran');

    const listing = canopyRun(['ls', `--repo=${repo}`, '-R', commit]);
    for (const path of ['/usr/etc/hostname', '/usr/lib/modules/6.1.0/vmlinuz', '/usr/lib/modules/6.1.0/initramfs.img',
      '/usr/lib/tmpfiles.d/canopy-var.conf', '/usr/share/factory/var/lib/app/state.db', '/home -> var/home', '/sysroot']) {
      assert.ok(listing.includes(path), `canopy ls lacks ${path}\n${listing}`);
    }
    assert.doesNotMatch(listing, / \/etc\//);
    assert.doesNotMatch(listing, / \/var\/./);
    // --owner-root: every entry is stored as root's
    for (const line of listing.trim().split('\n')) assert.match(line, /^[-dl]\d{5} 0 0 /, line);
    assert.match(canopyRun(['show', `--repo=${repo}`, commit]), /Version: 1\.0/);

    if (!have('ostree')) {
      this.skip(); // the real ostree, as an oracle, is installed in CI
    }
    const o = spawnSync('ostree', [`--repo=${repo}`, 'ls', '-R', commit, '/usr/lib/modules/6.1.0'], { encoding: 'utf8' });
    assert.equal(o.status, 0, o.stderr);
    assert.match(o.stdout, /-00644 0 0\s+6 \/usr\/lib\/modules\/6\.1\.0\/vmlinuz/);
    const etc = spawnSync('ostree', [`--repo=${repo}`, 'ls', commit, '/usr/etc'], { encoding: 'utf8' });
    assert.match(etc.stdout, /\/usr\/etc\/hostname/);
    const fsck = spawnSync('ostree', [`--repo=${repo}`, 'fsck'], { encoding: 'utf8' });
    assert.equal(fsck.status, 0, fsck.stdout + fsck.stderr);
  });

  it('runs canopy init, rev-parse, commit, sign, static-delta and summary with the options it was given', () => {
    const log = join(tmp.dir, 'canopy.log');
    const fake = fakeCanopy(tmp.dir, log, 'c'.repeat(64), 'p'.repeat(64));
    const repo = join(tmp.dir, 'repo');
    const r = runScript(SCRIPT, ['--repo', repo, '--branch', 'b/x', '--version', '2', '--owner-root',
      '--ed25519-key', 'keys/ed.secret', '--gpg-key', 'keys/release.asc', '--gpg-passphrase-file', 'keys/pass', '--delta-from', 'parent',
      '--summary', '--canopy', fake, rootfs, join(tmp.dir, 'tree')], {});
    assert.equal(r.status, 0, r.stderr);
    const calls = readFileSync(log, 'utf8').trim().split('\n');
    const tree = join(tmp.dir, 'tree');
    assert.deepEqual(calls, [
      `init --repo=${repo} --mode=archive`,
      `rev-parse --repo=${repo} b/x`,
      `commit --repo=${repo} --branch=b/x --subject=b/x --add-metadata-string=version=2 --owner-uid=0 --owner-gid=0 --tree=dir=${tree}`,
      `sign --repo=${repo} --keys-file=${process.cwd()}/keys/ed.secret --gpg-key=${process.cwd()}/keys/release.asc --gpg-passphrase-file=${process.cwd()}/keys/pass ${'c'.repeat(64)}`,
      `static-delta generate --repo=${repo} --from=${'p'.repeat(64)} --to=${'c'.repeat(64)}`,
      `summary --repo=${repo} -u`,
    ]);
  });

  it('signs each commit with canopy sign and writes a static delta from the previous one', function () {
    const repo = join(tmp.dir, 'repo');
    const keys = spawnSync(process.execPath, [CLI, 'keys', 'generate', `--output=${tmp.dir}`, '--name=release'], { encoding: 'utf8' });
    assert.equal(keys.status, 0, keys.stderr);
    const common = ['--repo', repo, '--branch', 'os/b', '--ed25519-key', join(tmp.dir, 'release.secret'), '--delta-from', 'parent', '--summary', '--canopy', CANOPY];
    const first = runScript(SCRIPT, [...common, '--commit-id-file', join(tmp.dir, 'c1'), rootfs, join(tmp.dir, 't1')]);
    assert.equal(first.status, 0, first.stderr);
    writeFileSync(join(rootfs, 'usr/bin/tool'), '#!/bin/sh\necho tool 2\n');
    const second = runScript(SCRIPT, [...common, '--commit-id-file', join(tmp.dir, 'c2'), rootfs, join(tmp.dir, 't2')]);
    assert.equal(second.status, 0, second.stderr);
    const [c1, c2] = ['c1', 'c2'].map((n) => readFileSync(join(tmp.dir, n), 'utf8').trim());
    assert.notEqual(c1, c2);
    assert.match(canopyRun(['static-delta', 'list', `--repo=${repo}`]), new RegExp(`${c1}-${c2}`));

    if (!have('ostree')) this.skip(); // the real ostree reads the detached signature in CI
    // The detached ed25519 signature, read by ostree, checks out against the public key.
    const shown = spawnSync('ostree', [`--repo=${repo}`, 'show', '--print-detached-metadata-key=ostree.sign.ed25519', c2], { encoding: 'utf8' });
    assert.equal(shown.status, 0, shown.stderr);
    const sig = firstByteArray(shown.stdout);
    assert.equal(sig.length, 64, `ostree show printed: ${shown.stdout}`);
    const pub = Buffer.from(readFileSync(join(tmp.dir, 'release.pub'), 'utf8').trim(), 'base64');
    const key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: pub.toString('base64url') }, format: 'jwk' });
    const commitBytes = readFileSync(join(repo, 'objects', c2.slice(0, 2), `${c2.slice(2)}.commit`));
    assert.ok(verify(null, commitBytes, key, sig), 'the signature verifies over the commit object');
    const deltas = spawnSync('ostree', [`--repo=${repo}`, 'static-delta', 'list'], { encoding: 'utf8' });
    assert.match(deltas.stdout, new RegExp(`${c1}-${c2}`));
  });

  it('writes no delta for the first commit of a branch, and none without --delta-from', () => {
    const log = join(tmp.dir, 'canopy.log');
    const fake = fakeCanopy(tmp.dir, log, 'c'.repeat(64), '');
    const r = runScript(SCRIPT, ['--repo', join(tmp.dir, 'repo'), '--branch', 'b', '--delta-from', 'parent', '--canopy', fake, rootfs, join(tmp.dir, 't1')]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /no earlier commit on b: no static delta/);
    const r2 = runScript(SCRIPT, ['--repo', join(tmp.dir, 'repo'), '--branch', 'b', '--canopy', fake, rootfs, join(tmp.dir, 't2')]);
    assert.equal(r2.status, 0, r2.stderr);
    const calls = readFileSync(log, 'utf8');
    assert.doesNotMatch(calls, /static-delta|sign|summary/);
    assert.equal((calls.match(/^commit /gm) ?? []).length, 2);
  });

  it('finds the kernel without usrmerge, prefers a boot image to vmlinux, and honours --kernel-version', () => {
    rmSync(join(rootfs, 'usr/lib/modules'), { recursive: true });
    mkdirSync(join(rootfs, 'lib/modules/5.15.0/extra'), { recursive: true });
    rmSync(join(rootfs, 'boot/vmlinuz-6.1.0'));
    rmSync(join(rootfs, 'boot/initrd.img-6.1.0'));
    writeFileSync(join(rootfs, 'boot/zImage-5.15.0'), 'ZIMAGE');
    writeFileSync(join(rootfs, 'boot/vmlinux-5.15.0'), 'ELF');
    const tree = join(tmp.dir, 'tree');
    const r = runScript(SCRIPT, [rootfs, tree]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(readFileSync(join(tree, 'usr/lib/modules/5.15.0/vmlinuz'), 'utf8'), 'ZIMAGE');
    assert.ok(existsSync(join(tree, 'lib/modules/5.15.0/extra')), 'modules stay where the image has them');
    assert.ok(!existsSync(join(tree, 'usr/lib/modules/5.15.0/initramfs.img')));

    // two versions: refused, unless one is chosen; the initramfs can come from elsewhere
    mkdirSync(join(rootfs, 'lib/modules/5.16.0'));
    writeFileSync(join(rootfs, 'boot/zImage-5.16.0'), 'NEWER');
    const two = runScript(SCRIPT, [rootfs, join(tmp.dir, 't2')]);
    assert.equal(two.status, 1);
    assert.match(two.stderr, /several kernel versions in \/lib\/modules \(5\.15\.0 5\.16\.0\); pass --kernel-version/);
    writeFileSync(join(tmp.dir, 'initramfs.cpio.gz'), 'CPIO');
    const chosen = runScript(SCRIPT, ['--kernel-version', '5.16.0', '--initramfs', join(tmp.dir, 'initramfs.cpio.gz'), rootfs, join(tmp.dir, 't3')]);
    assert.equal(chosen.status, 0, chosen.stderr);
    assert.equal(readFileSync(join(tmp.dir, 't3/usr/lib/modules/5.16.0/vmlinuz'), 'utf8'), 'NEWER');
    assert.equal(readFileSync(join(tmp.dir, 't3/usr/lib/modules/5.16.0/initramfs.img'), 'utf8'), 'CPIO');
  });

  it('accepts a tree that is already in the layout', () => {
    const once = join(tmp.dir, 'once');
    assert.equal(runScript(SCRIPT, [rootfs, once]).status, 0);
    const twice = runScript(SCRIPT, [once, join(tmp.dir, 'twice')]);
    assert.equal(twice.status, 0, twice.stderr);
    assert.equal(readFileSync(join(tmp.dir, 'twice/usr/lib/modules/6.1.0/vmlinuz'), 'utf8'), 'KERNEL');
    assert.equal(readlinkSync(join(tmp.dir, 'twice/home')), 'var/home');
  });

  describe('refuses', () => {
    const cases: Array<[string, (root: string, dir: string) => string[] | void, number, RegExp]> = [
      ['a TREE that is not empty', (_r, d) => { mkdirSync(join(d, 'tree')); writeFileSync(join(d, 'tree/x'), ''); }, 1, /tree exists and is not an empty directory/],
      ['a root filesystem without /usr', (r) => { rmSync(join(r, 'usr'), { recursive: true }); }, 1, /has no \/usr: not a root filesystem/],
      ['both /etc and /usr/etc', (r) => { mkdirSync(join(r, 'usr/etc')); }, 1, /both \/etc and \/usr\/etc exist/],
      ['no os-release', (r) => { rmSync(join(r, 'usr/lib/os-release')); }, 1, /no \/usr\/lib\/os-release or \/etc\/os-release; install os-release/],
      ['no kernel', (r) => { rmSync(join(r, 'boot/vmlinuz-6.1.0')); }, 1, /no kernel image in \/boot .*install kernel-image/],
      ['a fifo in /var', (r) => { spawnSync('mkfifo', [join(r, 'var/lib/dbus/fifo')]); }, 1, /special files in \/var cannot be seeded: var\/lib\/dbus\/fifo/],
      ['a fifo elsewhere', (r) => { spawnSync('mkfifo', [join(r, 'usr/bin/pipe')]); }, 1, /special files cannot be committed .*\/usr\/bin\/pipe/],
      ['a /var path with a space', (r) => { writeFileSync(join(r, 'var/log/a b'), ''); }, 1, /white space, quotes or backslashes: var\/log\/a b/],
      ['a non-empty folder linked into /run', (r) => { writeFileSync(join(r, 'media/disk'), ''); }, 1, /\/media is not empty, and its link target \/run\/media is not kept/],
      ['a var-links entry without =', () => ['--var-links', 'home'], 2, /"home" is not PATH=TARGET/],
      ['a var-links target outside /var and /run', () => ['--var-links', 'opt=usr/opt'], 2, /target of opt resolves to \/usr\/opt, not under \/var or \/run/],
      ['an absolute var-links path', () => ['--var-links', '/home=var/home'], 2, /must be relative/],
      ['--repo without --branch', (_r, d) => ['--repo', join(d, 'repo')], 2, /--repo needs --branch/],
      ['commit options without --repo', () => ['--delta-from', 'parent'], 2, /commit options need --repo/],
      ['an unknown option', () => ['--frobnicate'], 2, /unknown option --frobnicate/],
    ];
    for (const [what, setup, status, message] of cases) {
      it(what, () => {
        const extra = setup(rootfs, tmp.dir) ?? [];
        const r = runScript(SCRIPT, [...extra, rootfs, join(tmp.dir, 'tree')]);
        assert.equal(r.status, status, r.stderr);
        assert.match(r.stderr, message);
      });
    }

    it('a /var symlink whose target has white space', () => {
      symlinkSync('a target', join(rootfs, 'var/link'));
      const r = runScript(SCRIPT, [rootfs, join(tmp.dir, 'tree')]);
      assert.equal(r.status, 1);
      assert.match(r.stderr, /cannot seed "a target"/);
    });

    it('a device node (as root)', function () {
      if (!isRoot) this.skip(); // mknod needs root
      const n = spawnSync('mknod', [join(rootfs, 'usr/console'), 'c', '5', '1']);
      assert.equal(n.status, 0);
      const r = runScript(SCRIPT, [rootfs, join(tmp.dir, 'tree')]);
      assert.equal(r.status, 1);
      assert.match(r.stderr, /special files cannot be committed .*\/usr\/console/);
    });
  });

  it('empties /dev of the device nodes a static /dev table leaves (as root)', function () {
    if (!isRoot) this.skip(); // mknod needs root
    assert.equal(spawnSync('mknod', [join(rootfs, 'dev/null'), 'c', '1', '3']).status, 0);
    chmodSync(join(rootfs, 'dev'), 0o755);
    const r = runScript(SCRIPT, [rootfs, join(tmp.dir, 'tree')]);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(ls(join(tmp.dir, 'tree/dev')), []);
    assert.ok(lstatSync(join(rootfs, 'dev/null')).isCharacterDevice(), 'the source keeps its /dev');
    renameSync(join(rootfs, 'dev'), join(tmp.dir, 'dev-moved'));
  });
});
