/**
 * yocto-layer/scripts/canopy-make-sysroot: the admin command sequence it runs (checked
 * with a fake tool), and the sysroot it lays out with the real `ostree admin` from a
 * commit that canopy-prepare-rootfs made with the canopy CLI — the same commands the
 * device agent's admin interface takes.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, ROOT as REPO_ROOT, ensureBuilt } from '../cli/cli-harness';
import { have, isRoot, makeRootfs, runScript, tempDir } from './rootfs-fixture';

const SCRIPT = 'canopy-make-sysroot';
const AGENT = join(REPO_ROOT, 'dist/canopy-agent.cjs');

/** A fake CLI named `label`: logs each call, and for `admin deploy` also which boot files exist. */
function fakeTool(dir: string, log: string, label: string): string {
  const path = join(dir, `fake-${label}`);
  writeFileSync(path, [
    '#!/bin/sh',
    `echo "${label} $*" >> '${log}'`,
    'if [ "$1 $2" = "admin deploy" ]; then',
    '  for a in "$@"; do case "$a" in --sysroot=*) s=${a#--sysroot=} ;; esac; done',
    `  for f in boot/loader/uEnv.txt boot/grub/grub.cfg boot/grub/canopy.cfg; do [ -e "$s/$f" ] && echo "has $f" >> '${log}'; done`,
    '  mkdir -p "$s/ostree/deploy/os1/deploy/abc.0"',
    'fi',
    '',
  ].join('\n'));
  chmodSync(path, 0o755);
  return path;
}

describe('yocto-layer: canopy-make-sysroot', () => {
  let tmp: { dir: string; cleanup: () => void };
  beforeEach(() => {
    tmp = tempDir('canopy-yocto-sysroot-');
    writeFileSync(join(tmp.dir, 'config'), '[core]\nmode=archive\n');
  });
  afterEach(() => tmp.cleanup());

  it('runs init-fs, os-init, remote add, pull-local and deploy, with U-Boot files in place before the deploy', () => {
    const log = join(tmp.dir, 'log');
    const agent = fakeTool(tmp.dir, log, 'agent');
    const canopy = fakeTool(tmp.dir, log, 'canopy');
    writeFileSync(join(tmp.dir, 'boot.scr'), 'SCR');
    const sysroot = join(tmp.dir, 'sysroot');
    const r = runScript(SCRIPT, ['--repo', tmp.dir, '--ref', 'os/x', '--os', 'os1', '--bootloader', 'u-boot',
      '--karg', 'root=LABEL=canopy-sysroot', '--karg', 'console=ttyAMA0,115200', '--remote', 'fleet', '--remote-url', 'https://u.example/repo',
      '--remote-set', 'gpg-verify=false', '--remote-set', 'sign-verify=true', '--boot-file', join(tmp.dir, 'boot.scr'),
      '--boot-file', join(tmp.dir, 'missing.scr'), '--agent', agent, '--canopy', canopy, sysroot]);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(readFileSync(log, 'utf8').trim().split('\n'), [
      `agent admin init-fs ${sysroot}`,
      `agent admin os-init --sysroot=${sysroot} os1`,
      `canopy remote add --repo=${sysroot}/ostree/repo fleet https://u.example/repo --set=gpg-verify=false --set=sign-verify=true`,
      `canopy pull-local --repo=${sysroot}/ostree/repo --remote=fleet ${tmp.dir} os/x`,
      `agent admin deploy --sysroot=${sysroot} --os=os1 fleet:os/x --karg=root=LABEL=canopy-sysroot --karg=console=ttyAMA0,115200`,
      'has boot/loader/uEnv.txt',
    ]);
    assert.equal(readlinkSync(join(sysroot, 'boot/loader')), 'loader.0');
    assert.equal(readlinkSync(join(sysroot, 'boot/uEnv.txt')), 'loader/uEnv.txt');
    assert.equal(readFileSync(join(sysroot, 'boot/boot.scr'), 'utf8'), 'SCR');
    assert.match(r.stderr, /missing\.scr does not exist; not copied into \/boot/);
    assert.match(r.stderr, /deployed fleet:os\/x as \/ostree\/deploy\/os1\/deploy\/abc\.0/);
  });

  it('prepares GRUB: canopy.cfg and a grub.cfg that sources it; no remote means the bare ref', () => {
    const log = join(tmp.dir, 'log');
    const tool = fakeTool(tmp.dir, log, 'both');
    writeFileSync(join(tmp.dir, 'canopy.cfg'), '# snippet\n');
    const sysroot = join(tmp.dir, 'sysroot');
    const r = runScript(SCRIPT, ['--repo', tmp.dir, '--ref', 'os/x', '--os', 'os1', '--bootloader', 'grub', '--grub-cfg', join(tmp.dir, 'canopy.cfg'), '--tool', tool, sysroot]);
    assert.equal(r.status, 0, r.stderr);
    const calls = readFileSync(log, 'utf8');
    assert.match(calls, new RegExp(`^both pull-local --repo=${sysroot}/ostree/repo ${tmp.dir} os/x$`, 'm'));
    assert.match(calls, new RegExp(`^both admin deploy --sysroot=${sysroot} --os=os1 os/x$`, 'm'));
    assert.match(calls, /^has boot\/grub\/grub\.cfg$/m);
    assert.doesNotMatch(calls, /remote add/);
    assert.equal(readFileSync(join(sysroot, 'boot/grub/canopy.cfg'), 'utf8'), '# snippet\n');
    assert.match(readFileSync(join(sysroot, 'boot/grub/grub.cfg'), 'utf8'), /^source \/boot\/grub\/canopy\.cfg$/m);
  });

  for (const [what, args, message] of [
    ['missing --os', ['--repo', '.', '--ref', 'r'], /--repo, --ref and --os are required/],
    ['an unknown boot loader', ['--bootloader', 'lilo'], /must be u-boot, grub or none, not lilo/],
    ['GRUB without its snippet', ['--bootloader', 'grub'], /--bootloader grub needs --grub-cfg FILE/],
  ] as const) {
    it(`refuses ${what}`, () => {
      const base = what === 'missing --os' ? [] : ['--repo', tmp.dir, '--ref', 'r', '--os', 'o'];
      const r = runScript(SCRIPT, [...base, ...args, join(tmp.dir, 'sysroot')]);
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, message);
    });
  }

  it('refuses a repository without config and a sysroot that is not empty', () => {
    const noRepo = runScript(SCRIPT, ['--repo', join(tmp.dir, 'nope'), '--ref', 'r', '--os', 'o', join(tmp.dir, 's')]);
    assert.equal(noRepo.status, 1);
    assert.match(noRepo.stderr, /is not a repository/);
    const full = runScript(SCRIPT, ['--repo', tmp.dir, '--ref', 'r', '--os', 'o', tmp.dir]);
    assert.equal(full.status, 1);
    assert.match(full.stderr, /exists and is not an empty directory/);
  });

  // The same sysroot from the real ostree and from Canopy's own tools.
  for (const which of ['ostree', 'canopy'] as const) {
    describe(`with ${which === 'ostree' ? 'the real ostree admin' : 'canopy-agent admin and canopy'}`, function () {
      before(function () {
        // A bare repository and its deployments need root; CI runs as root.
        if (!isRoot || (which === 'ostree' && !have('ostree'))) this.skip();
        ensureBuilt();
        if (which === 'canopy' && !existsSync(AGENT)) this.skip(); // dist/canopy-agent.cjs not built yet
      });

      it('deploys a commit made by canopy-prepare-rootfs and the canopy CLI, with U-Boot entries', () => {
        const rootfs = join(tmp.dir, 'rootfs');
        makeRootfs(rootfs);
        const repo = join(tmp.dir, 'repo');
        const canopyCmd = `${process.execPath} ${CLI}`;
        const prep = runScript('canopy-prepare-rootfs', ['--repo', repo, '--branch', 'sample/board/minimal', '--version', '1.0',
          '--canopy', canopyCmd, rootfs, join(tmp.dir, 'tree')]);
        assert.equal(prep.status, 0, prep.stderr);
        writeFileSync(join(tmp.dir, 'boot.scr'), 'SCR');
        const sysroot = join(tmp.dir, 'sysroot');
        const tools = which === 'ostree' ? ['--tool', 'ostree'] : ['--agent', `${process.execPath} ${AGENT}`, '--canopy', canopyCmd];
        const r = runScript(SCRIPT, ['--repo', repo, '--ref', 'sample/board/minimal', '--os', 'sampleos', '--bootloader', 'u-boot',
          '--karg', 'root=LABEL=canopy-sysroot', '--karg', 'rw', '--remote', 'canopy', '--remote-url', 'https://updates.example/repo',
          '--remote-set', 'gpg-verify=false', '--boot-file', join(tmp.dir, 'boot.scr'), ...tools, sysroot]);
        assert.equal(r.status, 0, r.stderr);

        const deploy = join(sysroot, 'ostree/deploy/sampleos/deploy');
        const [dir] = readdirSync(deploy).filter((n) => n.endsWith('.0'));
        assert.match(dir, /^[0-9a-f]{64}\.0$/);
        assert.match(readFileSync(join(deploy, `${dir}.origin`), 'utf8'), /^refspec=canopy:sample\/board\/minimal$/m);
        assert.equal(readFileSync(join(deploy, dir, 'etc/hostname'), 'utf8'), 'canopy-board\n');
        assert.match(readFileSync(join(sysroot, 'ostree/repo/config'), 'utf8'), /\[remote "canopy"\]\nurl=https:\/\/updates\.example\/repo\ngpg-verify=false/);

        const uenv = readFileSync(join(sysroot, 'boot/loader/uEnv.txt'), 'utf8');
        assert.match(uenv, /^kernel_image=\/boot\/ostree\/sampleos-[0-9a-f]{64}\/vmlinuz-6\.1\.0$/m);
        assert.match(uenv, /^ramdisk_image=\/boot\/ostree\/sampleos-[0-9a-f]{64}\/initramfs-6\.1\.0\.img$/m);
        assert.match(uenv, /^fdtdir=\/boot\/ostree\/sampleos-[0-9a-f]{64}\/dtb$/m);
        assert.match(uenv, /^bootargs=root=LABEL=canopy-sysroot rw ostree=\/ostree\/boot\.1\/sampleos\/[0-9a-f]{64}\/0$/m);
        const [entry] = readdirSync(join(sysroot, 'boot/loader/entries'));
        assert.match(readFileSync(join(sysroot, 'boot/loader/entries', entry), 'utf8'), /^title Sample OS 1\.0 \(ostree:0\)$/m);
        const bootDir = readdirSync(join(sysroot, 'boot/ostree'))[0];
        assert.equal(readFileSync(join(sysroot, 'boot/ostree', bootDir, 'vmlinuz-6.1.0'), 'utf8'), 'KERNEL');
        assert.equal(readFileSync(join(sysroot, 'boot/boot.scr'), 'utf8'), 'SCR');
        assert.ok(existsSync(join(deploy, dir, 'usr/lib/tmpfiles.d/canopy-var.conf')));
        const fsck = spawnSync(process.execPath, [CLI, `--repo=${join(sysroot, 'ostree/repo')}`, 'fsck'], { encoding: 'utf8' });
        assert.equal(fsck.status, 0, fsck.stdout + fsck.stderr);
      });
    });
  }
});
