/**
 * deploy, upgrade and the boot-loader switch on Canopy-made sysroots (no
 * ostree needed; root needed for the bare repository, as on a device).
 */
import { strict as assert } from 'node:assert';
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { isCanopyError } from '../../../agent/src/core/errors';
import { Repo } from '../../../agent/src/repo/repo';
import { listRefs } from '../../../agent/src/repo/refs';
import { deploy, loadSysroot, upgrade, type SysrootState } from '../../../agent/src/sysroot/index';
import { canopySysroot, commitOs, isRoot, removeScratch, scratch } from './fixture';

const entries = (s: string): string[] => readdirSync(join(s, 'boot/loader/entries')).sort();
const deployDirs = (s: string): string[] => readdirSync(join(s, 'ostree/deploy/testos/deploy')).filter((n) => !n.endsWith('.origin')).sort();
const dirOf = (s: string, st: SysrootState, i: number): string => join(s, 'ostree/deploy', st.deployments[i].stateroot, 'deploy', `${st.deployments[i].csum}.${st.deployments[i].serial}`);

describe('sysroot/deploy', function () {
  let tmp: string;
  before(function () {
    if (!isRoot) {
      console.log('      skipped: a bare sysroot repository needs root');
      this.skip();
    }
    tmp = scratch('canopy-sysroot-', { memory: true });
  });
  after(() => tmp && removeScratch(tmp));
  let n = 0;
  const fresh = (opts: { uboot?: boolean } = {}): string => canopySysroot(join(tmp, `s${n++}`), opts);

  it('first deploy: bootversion 0 -> 1, entry, uEnv.txt, bootlink, origin, deployment ref, sealed root', async function () {
    const s = fresh();
    const c = await commitOs(s, tmp, { version: '1.0' });
    const r = await deploy(s, 'testos/main', { stateroot: 'testos', kargEdits: { replace: ['root=LABEL=rootfs', 'quiet'] } });
    assert.equal(r.write?.kind, 'bootswap');
    assert.equal(readlinkSync(join(s, 'boot/loader')), 'loader.1');
    assert.equal(readlinkSync(join(s, 'ostree/boot.1')), 'boot.1.1');
    assert.deepEqual(entries(s), ['ostree-1-testos.conf']);
    const entry = readFileSync(join(s, 'boot/loader/entries/ostree-1-testos.conf'), 'utf8');
    assert.match(entry, /^title TestOS 42 1\.0 \(ostree:0\)\nversion 1\noptions root=LABEL=rootfs quiet ostree=\/ostree\/boot\.1\/testos\/[0-9a-f]{64}\/0\n/);
    assert.match(readFileSync(join(s, 'boot/loader/uEnv.txt'), 'utf8'), /^kernel_image=\/boot\/ostree\/testos-[0-9a-f]{64}\/vmlinuz-6\.1\.0\n.*bootcmd=run mmcboot\n\n$/s);
    assert.equal(readFileSync(join(s, `ostree/deploy/testos/deploy/${c}.0.origin`), 'utf8'), '[origin]\nrefspec=testos/main\n');
    assert.ok(!existsSync(join(s, 'boot/loader.0')), 'the old loader is cleaned up');
    assert.deepEqual(listRefs(Repo.open(join(s, 'ostree/repo'))).map((x) => x.name), ['ostree/1/1/0', 'testos/main']);
    const st = loadSysroot(s);
    assert.equal(st.deployments.length, 1);
    assert.equal(readFileSync(join(dirOf(s, st, 0), 'etc/fileA'), 'utf8'), 'a\n');
    assert.equal(lstatSync(join(dirOf(s, st, 0), 'etc/fileA')).nlink, 1, '/etc is a copy');
    assert.ok(lstatSync(join(dirOf(s, st, 0), 'usr/bin/hello')).nlink > 1, '/usr is hardlinked');
    const attrs = spawnSync('lsattr', ['-d', dirOf(s, st, 0)], { encoding: 'utf8' });
    if (attrs.status === 0) assert.match(attrs.stdout.split(' ')[0], /i/, 'the deployment root is immutable, as ostree leaves it');
  });

  it('second deploy merges /etc, keeps the merge deployment, carries the kernel arguments; a third drops the oldest', async function () {
    const s = fresh();
    await commitOs(s, tmp, { version: '1.0' });
    await deploy(s, 'testos/main', { stateroot: 'testos', kargEdits: { replace: ['root=LABEL=rootfs'] } });
    let st = loadSysroot(s);
    const d0 = dirOf(s, st, 0);
    writeFileSync(join(d0, 'etc/fileA'), 'local\n');
    writeFileSync(join(d0, 'etc/fileD'), 'mine\n');
    await commitOs(s, tmp, { version: '2.0', etc: { fileA: 'a2\n', fileB: 'b\n', 'sub/fileC': 'c2\n', fileE: 'e\n' } });
    const r = await deploy(s, 'testos/main', { stateroot: 'testos' });
    assert.deepEqual(r.etc, { modified: 1, removed: 0, added: 1 });
    st = loadSysroot(s);
    assert.equal(st.deployments.length, 2);
    assert.deepEqual(entries(s), ['ostree-1-testos.conf', 'ostree-2-testos.conf']);
    const d1 = dirOf(s, st, 0);
    assert.equal(readFileSync(join(d1, 'etc/fileA'), 'utf8'), 'local\n');
    assert.equal(readFileSync(join(d1, 'etc/fileD'), 'utf8'), 'mine\n');
    assert.equal(readFileSync(join(d1, 'etc/fileE'), 'utf8'), 'e\n');
    assert.equal(readFileSync(join(d1, 'etc/sub/fileC'), 'utf8'), 'c2\n');
    assert.match(st.deployments[0].bootconfig.get('options')!, /^root=LABEL=rootfs ostree=/);
    await commitOs(s, tmp, { version: '3.0' });
    await deploy(s, 'testos/main', { stateroot: 'testos' });
    st = loadSysroot(s);
    assert.deepEqual(st.deployments.map((d) => d.bootconfig.get('title')), ['TestOS 42 3.0 (ostree:0)', 'TestOS 42 2.0 (ostree:1)']);
    assert.equal(deployDirs(s).length, 2, 'the first deployment was removed');
  });

  it('redeploying the same kernel, kargs and version only swaps the sub-bootversion', async function () {
    const s = fresh();
    await commitOs(s, tmp, { version: '1.0' });
    await deploy(s, 'testos/main', { stateroot: 'testos' });
    await deploy(s, 'testos/main', { stateroot: 'testos', retain: true });
    const before = loadSysroot(s);
    const r = await deploy(s, 'testos/main', { stateroot: 'testos' });
    assert.equal(r.deployment.serial, 2);
    assert.equal(r.write?.kind, 'subboot');
    const after = loadSysroot(s);
    assert.equal(after.bootversion, before.bootversion);
    assert.notEqual(after.subbootversion, before.subbootversion);
  });

  it('checks space and kernel-argument edits before writing anything', async function () {
    const s = fresh();
    await commitOs(s, tmp, { version: '1.0' });
    const full = () => ({ mount: '/fake', bytes: 100, inodes: 1000 });
    await assert.rejects(deploy(s, 'testos/main', { stateroot: 'testos', probe: full }), (e: unknown) => isCanopyError(e, 'ERR_NO_SPACE') && (e as unknown as { details: { mount: string } }).details.mount === '/fake');
    await assert.rejects(deploy(s, 'testos/main', { stateroot: 'testos', kargEdits: { delete: ['nope'] } }), (e: unknown) => isCanopyError(e, 'ERR_INVALID_ARGUMENT'));
    const dd = join(s, 'ostree/deploy/testos/deploy');
    assert.ok(!existsSync(dd) || readdirSync(dd).length === 0, 'nothing was checked out');
    await assert.rejects(deploy(s, 'testos/main'), (e: unknown) => isCanopyError(e, 'ERR_STATEROOT_NOT_FOUND'));
    await assert.rejects(deploy(s, 'testos/main', { stateroot: 'other' }), (e: unknown) => isCanopyError(e, 'ERR_STATEROOT_NOT_FOUND'));
    await assert.rejects(deploy(s, 'no/such/ref', { stateroot: 'testos' }), (e: unknown) => isCanopyError(e, 'ERR_REF_NOT_FOUND'));
  });

  it('a commit without a kernel is refused and leaves no deployment behind after the next cleanup', async function () {
    const s = fresh();
    const dir = join(tmp, `nokernel${n}`);
    mkdirSync(join(dir, 'usr/etc'), { recursive: true });
    writeFileSync(join(dir, 'usr/etc/x'), 'x');
    const { commitTree } = await import('../../../agent/src/repo/commit-tree');
    await commitTree(Repo.open(join(s, 'ostree/repo')), dir, { branch: 'testos/nok', timestamp: 1 });
    await assert.rejects(deploy(s, 'testos/nok', { stateroot: 'testos' }), (e: unknown) => isCanopyError(e, 'ERR_KERNEL_NOT_FOUND'));
    await commitOs(s, tmp, { version: '1.0' });
    await deploy(s, 'testos/main', { stateroot: 'testos' });
    assert.equal(deployDirs(s).length, 1);
  });

  it('without the U-Boot stub only BLS entries are written; with GRUB, the menu file', async function () {
    const s = fresh({ uboot: false });
    await commitOs(s, tmp, { version: '1.0' });
    await deploy(s, 'testos/main', { stateroot: 'testos' });
    assert.deepEqual(readdirSync(join(s, 'boot/loader')).sort(), ['entries']);
    const g = fresh({ uboot: false });
    mkdirSync(join(g, 'boot/grub'), { recursive: true });
    writeFileSync(join(g, 'boot/grub/grub.cfg'), '# test\n');
    await commitOs(g, tmp, { version: '1.0' });
    await deploy(g, 'testos/main', { stateroot: 'testos' });
    assert.match(readFileSync(join(g, 'boot/loader/grub-entries.cfg'), 'utf8'), /menuentry 'TestOS 42 1\.0 \(ostree:0\)'/);
  });

  it('upgrade deploys what the origin ref points to, does nothing when current, refuses an older commit', async function () {
    const s = fresh();
    const c1 = await commitOs(s, tmp, { version: '1.0' });
    await deploy(s, 'testos/main', { stateroot: 'testos' });
    assert.equal((await upgrade(s, { stateroot: 'testos' })).changed, false);
    const c2 = await commitOs(s, tmp, { version: '2.0' });
    const r = await upgrade(s, { stateroot: 'testos' });
    assert.deepEqual([r.changed, r.from, r.to], [true, c1, c2]);
    assert.equal(loadSysroot(s).deployments[0].csum, c2);
    const { writeRef } = await import('../../../agent/src/repo/refs');
    writeRef(Repo.open(join(s, 'ostree/repo')), 'testos/main', c1);
    await assert.rejects(upgrade(s, { stateroot: 'testos' }), (e: unknown) => isCanopyError(e, 'ERR_DOWNGRADE'));
    assert.equal((await upgrade(s, { stateroot: 'testos', allowDowngrade: true })).to, c1);
  });
});
