/** Reading sysroots: hand-made layouts, malformed ones, and how the booted deployment is found. */
import { strict as assert } from 'node:assert';
import { mkdirSync, rmSync, statSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isCanopyError } from '../../../agent/src/core/errors';
import { loadSysroot, mergeDeploymentFor, pendingAndRollback } from '../../../agent/src/sysroot/load';
import { removeScratch, scratch } from './fixture';

const K = 'f'.repeat(64);
const A = 'a'.repeat(64);
const B = 'b'.repeat(64);

/** A sysroot at bootversion 1 with deployments A.0 (version 2, default) and B.0 (version 1), made by hand. */
function handMade(root: string): string {
  const s = join(root, 'sysroot');
  for (const c of [A, B]) mkdirSync(join(s, `ostree/deploy/os/deploy/${c}.0/usr`), { recursive: true });
  writeFileSync(join(s, `ostree/deploy/os/deploy/${A}.0.origin`), '[origin]\nrefspec=os/main\n');
  mkdirSync(join(s, `ostree/boot.1.0/os/${K}`), { recursive: true });
  symlinkSync(`../../../deploy/os/deploy/${A}.0`, join(s, `ostree/boot.1.0/os/${K}/0`));
  symlinkSync(`../../../deploy/os/deploy/${B}.0`, join(s, `ostree/boot.1.0/os/${K}/1`));
  symlinkSync('boot.1.0', join(s, 'ostree/boot.1'));
  mkdirSync(join(s, 'boot/loader.1/entries'), { recursive: true });
  symlinkSync('loader.1', join(s, 'boot/loader'));
  // Versions 10 and 9 sort as numbers, not as text.
  writeFileSync(join(s, 'boot/loader.1/entries/ostree-10-os.conf'), `title A\nversion 10\noptions root=x ostree=/ostree/boot.1/os/${K}/0\nlinux /v\n`);
  writeFileSync(join(s, 'boot/loader.1/entries/ostree-9-os.conf'), `title B\nversion 9\noptions ostree=/ostree/boot.1/os/${K}/1\nlinux /v\n`);
  writeFileSync(join(s, 'boot/loader.1/entries/not-ours.conf'), 'title x\n');
  return s;
}

describe('sysroot/load', function () {
  let tmp: string;
  let n = 0;
  beforeEach(() => { tmp = scratch(); });
  afterEach(() => removeScratch(tmp));

  it('reads bootversion, subbootversion and entries ordered by version, resolved through the bootlinks', function () {
    const s = handMade(join(tmp, `x${n++}`));
    const st = loadSysroot(s);
    assert.equal(st.bootversion, 1);
    assert.equal(st.subbootversion, 0);
    assert.deepEqual(st.deployments.map((d) => [d.index, d.csum, d.bootserial, d.bootconfig.get('title')]), [[0, A, 0, 'A'], [1, B, 1, 'B']]);
    assert.equal(st.deployments[0].origin?.get('origin', 'refspec'), 'os/main');
    assert.equal(st.deployments[1].origin, undefined);
    assert.equal(st.booted, undefined);
    assert.equal(mergeDeploymentFor(st, 'os')?.csum, A, 'not booted: the first deployment is the merge source');
  });

  it('finds the booted deployment from /proc/cmdline\'s ostree= or from the root directory\'s device and inode', function () {
    const s = handMade(join(tmp, `x${n++}`));
    const st = loadSysroot(s, { booted: { cmdline: `BOOT_IMAGE=/x ostree=/ostree/boot.1/os/${K}/1 quiet\n` } });
    assert.equal(st.booted?.csum, B);
    assert.deepEqual([pendingAndRollback(st).pending?.csum, pendingAndRollback(st).rollback?.csum], [A, undefined]);
    assert.equal(mergeDeploymentFor(st, 'os')?.csum, B, 'booted: the booted deployment is the merge source');
    const root = statSync(join(s, `ostree/deploy/os/deploy/${A}.0`));
    assert.equal(loadSysroot(s, { booted: { root: { dev: root.dev, ino: root.ino }, cmdline: `ostree=/ostree/boot.1/os/${K}/1` } }).booted?.csum, A, 'the inode wins');
    assert.equal(loadSysroot(s, { booted: { cmdline: 'quiet' } }).booted, undefined);
  });

  it('an empty sysroot has bootversion 0 and no deployments', function () {
    mkdirSync(join(tmp, 'empty'));
    const st = loadSysroot(join(tmp, 'empty'));
    assert.deepEqual([st.bootversion, st.subbootversion, st.deployments.length], [0, 0, 0]);
  });

  const broken: Array<[string, (s: string) => void, RegExp]> = [
    ['boot/loader is a directory', (s) => { unlinkSync(join(s, 'boot/loader')); mkdirSync(join(s, 'boot/loader')); }, /boot\/loader: is not a symbolic link/],
    ['boot/loader points elsewhere', (s) => { unlinkSync(join(s, 'boot/loader')); symlinkSync('/etc', join(s, 'boot/loader')); }, /invalid target/],
    ['ostree/boot.1 has a bad target', (s) => { unlinkSync(join(s, 'ostree/boot.1')); symlinkSync('boot.1.7', join(s, 'ostree/boot.1')); }, /ostree\/boot\.1/],
    ['an entry has no ostree=', (s) => writeFileSync(join(s, 'boot/loader.1/entries/ostree-3-os.conf'), 'version 3\noptions quiet\n'), /ostree-3-os\.conf: no ostree=/],
    ['a bootlink is missing', (s) => unlinkSync(join(s, `ostree/boot.1.0/os/${K}/1`)), /bootlink .* cannot be read/],
    ['a bootlink points to a non-deployment', (s) => { unlinkSync(join(s, `ostree/boot.1.0/os/${K}/1`)); symlinkSync('/etc', join(s, `ostree/boot.1.0/os/${K}/1`)); }, /not a deployment/],
    ['a deployment directory is gone', (s) => rmSync(join(s, `ostree/deploy/os/deploy/${B}.0`), { recursive: true }), /is missing/],
  ];
  for (const [what, breakIt, msg] of broken) {
    it(`ERR_SYSROOT_INVALID when ${what}`, function () {
      const s = handMade(join(tmp, `x${n++}`));
      breakIt(s);
      assert.throws(() => loadSysroot(s), (e: unknown) => isCanopyError(e, 'ERR_SYSROOT_INVALID') && msg.test((e as Error).message));
    });
  }

  it('a malformed origin is ERR_CONFIG_INVALID naming the file', function () {
    const s = handMade(join(tmp, `x${n++}`));
    writeFileSync(join(s, `ostree/deploy/os/deploy/${A}.0.origin`), 'no group\n');
    assert.throws(() => loadSysroot(s), (e: unknown) => isCanopyError(e, 'ERR_CONFIG_INVALID') && /\.origin/.test((e as Error).message));
  });
});
