/** rollback, undeploy, pin, cleanup of leftovers, and staging with finalize-staged, on Canopy-made sysroots. */
import { strict as assert } from 'node:assert';
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isCanopyError } from '../../../agent/src/core/errors';
import {
  cleanup, deploy, finalizeStaged, formatStatus, loadSysroot, rollback, setPinned, sysrootStatus, undeploy, type SysrootState,
} from '../../../agent/src/sysroot/index';
import { canopySysroot, commitOs, isRoot, removeScratch, scratch } from './fixture';

const dirOf = (s: string, st: SysrootState, i: number): string => join(s, 'ostree/deploy', st.deployments[i].stateroot, 'deploy', `${st.deployments[i].csum}.${st.deployments[i].serial}`);
const versions = (s: string, hint?: { cmdline: string }, runDir?: string): string[] =>
  loadSysroot(s, { booted: hint, runDir }).deployments.map((d) => `${d.staged ? 'staged ' : ''}${d.bootconfig.get('title') ?? d.csum.slice(0, 8)}`);

describe('sysroot/admin-ops', function () {
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
  /** A sysroot with deployments of versions 2.0 (default) and 1.0. */
  async function twoDeployments(): Promise<string> {
    const s = canopySysroot(join(tmp, `s${n++}`));
    await commitOs(s, tmp, { version: '1.0' });
    await deploy(s, 'testos/main', { stateroot: 'testos', fsync: false });
    await commitOs(s, tmp, { version: '2.0', kernel: 'kernel 2\n' });
    await deploy(s, 'testos/main', { stateroot: 'testos', fsync: false });
    return s;
  }

  it('rollback makes the previous deployment the default and back again; nothing is deleted', async function () {
    const s = await twoDeployments();
    const r = await rollback(s, { fsync: false });
    assert.equal(r.write.kind, 'bootswap');
    assert.deepEqual(versions(s), ['TestOS 42 1.0 (ostree:0)', 'TestOS 42 2.0 (ostree:1)']);
    await rollback(s, { fsync: false });
    assert.deepEqual(versions(s), ['TestOS 42 2.0 (ostree:0)', 'TestOS 42 1.0 (ostree:1)']);
    const st = loadSysroot(s);
    const booted = { cmdline: `console=ttyS0 ${st.deployments[1].bootconfig.get('options')}` };
    await rollback(s, { fsync: false, booted });
    assert.deepEqual(versions(s), ['TestOS 42 1.0 (ostree:0)', 'TestOS 42 2.0 (ostree:1)'], 'booted into the non-default one: it becomes the default');
  });

  it('undeploy removes one deployment and its files; the booted one is refused', async function () {
    const s = await twoDeployments();
    const st = loadSysroot(s);
    await assert.rejects(undeploy(s, 0, { booted: { cmdline: st.deployments[0].bootconfig.get('options')! } }), (e: unknown) => isCanopyError(e, 'ERR_BOOTED_DEPLOYMENT'));
    await assert.rejects(undeploy(s, 5), (e: unknown) => isCanopyError(e, 'ERR_DEPLOYMENT_NOT_FOUND'));
    const gone = dirOf(s, st, 1);
    await undeploy(s, 1, { fsync: false });
    assert.equal(existsSync(gone), false);
    assert.equal(existsSync(`${gone}.origin`), false);
    assert.deepEqual(versions(s), ['TestOS 42 2.0 (ostree:0)']);
    assert.equal(readdirSync(join(s, 'boot/ostree')).length, 1, 'the old kernel directory is gone');
  });

  it('a pinned deployment survives deploys; unpinned it goes', async function () {
    const s = await twoDeployments();
    assert.equal((await setPinned(s, 1, true)).changed, true);
    assert.equal((await setPinned(s, 1, true)).changed, false);
    assert.match(readFileSync(`${dirOf(s, loadSysroot(s), 1)}.origin`, 'utf8'), /\n\[libostree-transient\]\npinned=true\n$/);
    await commitOs(s, tmp, { version: '3.0' });
    await deploy(s, 'testos/main', { stateroot: 'testos', fsync: false });
    assert.deepEqual(versions(s).map((t) => t.split(' ')[2]), ['3.0', '2.0', '1.0']);
    assert.match(formatStatus(sysrootStatus(loadSysroot(s), undefined)), /^ {2}testos [0-9a-f]{64}\.0\n {4}Pinned: yes\n {4}origin refspec: testos\/main\n$/m);
    await setPinned(s, 2, false);
    await commitOs(s, tmp, { version: '4.0' });
    await deploy(s, 'testos/main', { stateroot: 'testos', fsync: false });
    assert.deepEqual(versions(s).map((t) => t.split(' ')[2]), ['4.0', '3.0']);
    await assert.rejects(setPinned(s, 7, true), (e: unknown) => isCanopyError(e, 'ERR_DEPLOYMENT_NOT_FOUND'));
  });

  it('cleanup removes what an interrupted operation left, and nothing that boots', async function () {
    const s = await twoDeployments();
    const st = loadSysroot(s);
    const bootcsum = st.deployments[0].bootcsum;
    const other = `boot/loader.${1 - st.bootversion}`;
    symlinkSync(`loader.${1 - st.bootversion}`, join(s, 'boot/loader.tmp'));
    mkdirSync(join(s, other, 'entries'), { recursive: true });
    mkdirSync(join(s, `ostree/deploy/testos/deploy/${'e'.repeat(64)}.0/usr`), { recursive: true });
    writeFileSync(join(s, `boot/ostree/testos-${bootcsum}/.vmlinuz-6.1.0.tmp`), 'half');
    mkdirSync(join(s, `boot/ostree/testos-${'9'.repeat(64)}`));
    const r = await cleanup(s, { fsync: false });
    for (const p of ['boot/loader.tmp', other, `ostree/deploy/testos/deploy/${'e'.repeat(64)}.0`, `boot/ostree/testos-${bootcsum}/.vmlinuz-6.1.0.tmp`, `boot/ostree/testos-${'9'.repeat(64)}`]) {
      assert.equal(existsSync(join(s, p)), false, p);
    }
    assert.deepEqual(loadSysroot(s).deployments.map((d) => d.csum), st.deployments.map((d) => d.csum));
    assert.ok(r.prune !== undefined);
  });

  it('stage now, finalize at shutdown: /etc changes made after staging are kept', async function () {
    const s = await twoDeployments();
    const runDir = join(tmp, `run${n++}`);
    const st = loadSysroot(s);
    const booted = { cmdline: st.deployments[0].bootconfig.get('options')! };
    await commitOs(s, tmp, { version: '3.0' });
    await assert.rejects(deploy(s, 'testos/main', { stateroot: 'testos', stage: true, runDir }), (e: unknown) => isCanopyError(e, 'ERR_NOT_BOOTED'));
    const r = await deploy(s, 'testos/main', { stateroot: 'testos', stage: true, booted, runDir, fsync: false });
    assert.equal(r.staged, true);
    assert.ok(existsSync(join(runDir, 'ostree/staged-deployment')));
    assert.deepEqual(versions(s, booted, runDir).map((t) => t.split(' ')[0]), ['staged', 'TestOS', 'TestOS']);
    assert.match(formatStatus(sysrootStatus(loadSysroot(s, { booted, runDir }), undefined)), /^ {2}testos [0-9a-f]{64}\.0 \(staged\)\n {4}origin refspec: testos\/main\n\* testos [0-9a-f]{64}\.0\n {4}origin refspec: testos\/main\n {2}testos [0-9a-f]{64}\.0 \(rollback\)\n/);
    writeFileSync(join(dirOf(s, st, 0), 'etc/after-staging'), 'kept\n');
    const f = await finalizeStaged(s, { booted, runDir, fsync: false });
    assert.equal(f.finalized, true);
    assert.equal(existsSync(join(runDir, 'ostree/staged-deployment')), false);
    const now = loadSysroot(s);
    assert.equal(now.deployments[0].bootconfig.get('title'), 'TestOS 42 3.0 (ostree:0)');
    assert.equal(readFileSync(join(dirOf(s, now, 0), 'etc/after-staging'), 'utf8'), 'kept\n');
    assert.equal((await finalizeStaged(s, { booted, runDir })).reason, 'none-staged');
  });

  it('a locked staged deployment is not finalized; a failed finalization is recorded for the next boot', async function () {
    const s = await twoDeployments();
    const runDir = join(tmp, `run${n++}`);
    const st = loadSysroot(s);
    const booted = { cmdline: st.deployments[0].bootconfig.get('options')! };
    await commitOs(s, tmp, { version: '3.0' });
    await deploy(s, 'testos/main', { stateroot: 'testos', stage: true, lockFinalization: true, booted, runDir, fsync: false });
    assert.equal((await finalizeStaged(s, { booted, runDir })).reason, 'locked');
    await deploy(s, 'testos/main', { stateroot: 'testos', stage: true, booted, runDir, fsync: false });
    const fs = await import('node:fs');
    fs.rmSync(join(runDir, 'ostree/staged-deployment-locked'));
    // Break the staged tree's kernel so finalization fails.
    const staged = loadSysroot(s, { booted, runDir }).staged!;
    const sdir = join(s, 'ostree/deploy/testos/deploy', `${staged.csum}.${staged.serial}`);
    fs.rmSync(join(sdir, 'usr/lib/modules'), { recursive: true });
    await assert.rejects(finalizeStaged(s, { booted, runDir, fsync: false }), (e: unknown) => isCanopyError(e, 'ERR_KERNEL_NOT_FOUND'));
    assert.match(readFileSync(join(s, 'boot/ostree/finalize-failure.stamp'), 'utf8'), /no kernel/);
    assert.deepEqual(versions(s).map((t) => t.split(' ')[2]), ['2.0', '1.0'], 'the old default still boots');
  });
});
