/**
 * yocto-layer/recipes-canopy/canopy-initramfs/files/canopy-prepare-root: resolving the
 * ostree= kernel argument to a deployment, the mount plan (--dry-run), refusals, and
 * the real mounts in a private mount namespace (as root, with unshare).
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, have, isRoot, tempDir } from './rootfs-fixture';

const SCRIPT = join(ROOT, 'yocto-layer/recipes-canopy/canopy-initramfs/files/canopy-prepare-root');
const CSUM = 'a'.repeat(64);
const COMMIT = 'c'.repeat(64);
const ARG = `ostree=/ostree/boot.1/demo/${CSUM}/0`;

/** A sysroot as `ostree admin deploy` leaves it: bootlinks, one deployment, a stateroot /var. */
function makeSysroot(dir: string): string {
  const dep = join(dir, `ostree/deploy/demo/deploy/${COMMIT}.0`);
  for (const d of ['usr/bin', 'var', 'sysroot', 'boot', 'etc']) mkdirSync(join(dep, d), { recursive: true });
  writeFileSync(join(dep, 'etc/hostname'), 'deployed\n');
  mkdirSync(join(dir, 'ostree/deploy/demo/var/lib'), { recursive: true });
  writeFileSync(join(dir, 'ostree/deploy/demo/var/lib/state'), 'kept\n');
  mkdirSync(join(dir, 'boot/loader.1/entries'), { recursive: true });
  symlinkSync('loader.1', join(dir, 'boot/loader'));
  mkdirSync(join(dir, `ostree/boot.1.1/demo/${CSUM}`), { recursive: true });
  symlinkSync(`../../../deploy/demo/deploy/${COMMIT}.0`, join(dir, `ostree/boot.1.1/demo/${CSUM}/0`));
  symlinkSync('boot.1.1', join(dir, 'ostree/boot.1'));
  return dep;
}

function run(args: string[], cmdline: string): { status: number; stdout: string; stderr: string } {
  const r = spawnSync('sh', [SCRIPT, ...args], { encoding: 'utf8', env: { ...process.env, CANOPY_CMDLINE: cmdline } });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

describe('yocto-layer: canopy-prepare-root', () => {
  let tmp: { dir: string; cleanup: () => void };
  let sysroot: string;
  let dep: string;
  beforeEach(() => {
    tmp = tempDir('canopy-yocto-root-');
    sysroot = join(tmp.dir, 'sysroot');
    dep = makeSysroot(sysroot);
  });
  afterEach(() => tmp.cleanup());

  it('plans the deployment, its /var, a read-only /usr, /boot and /sysroot, then the swap', () => {
    const r = run(['--dry-run', sysroot], `root=/dev/vda1 rw ${ARG} quiet`);
    assert.equal(r.status, 0, r.stderr);
    const stage = join(tmp.dir, '.canopy-deployment');
    assert.deepEqual(r.stdout.trim().split('\n'), [
      `mount -o bind ${dep} ${dep}`,
      `mount -o bind ${sysroot}/ostree/deploy/demo/var ${dep}/var`,
      `mount -o bind ${dep}/usr ${dep}/usr`,
      `mount -o remount,bind,ro ${dep}/usr`,
      `mount -o bind ${sysroot}/boot ${dep}/boot`,
      `mkdir -p ${stage}`,
      `mount -o move ${dep} ${stage}`,
      `mount -o move ${sysroot} ${stage}/sysroot`,
      `mount -o move ${stage} ${sysroot}`,
    ]);
    assert.match(r.stderr, new RegExp(`deployment /ostree/deploy/demo/deploy/${COMMIT}\\.0`));
  });

  for (const [what, cmdline, message] of [
    ['no ostree= argument', 'root=/dev/vda1 rw', /no ostree= argument/],
    ['a malformed ostree= path', 'ostree=/boot/x', /is not \/ostree\/boot\.N\/OS\/BOOTCSUM\/SERIAL/],
    ['.. in the path', `ostree=/ostree/boot.1/demo/../../../0`, /has \. or empty components/],
    ['a bootlink that does not exist', `ostree=/ostree/boot.0/demo/${CSUM}/0`, /does not resolve/],
  ] as const) {
    it(`refuses ${what}`, () => {
      const r = run(['--dry-run', sysroot], cmdline);
      assert.equal(r.status, 1);
      assert.match(r.stderr, message);
      assert.equal(r.stdout, '', 'nothing is mounted');
    });
  }

  it('refuses a bootlink that leaves the deployments, and a deployment without /var', () => {
    mkdirSync(join(sysroot, `ostree/boot.1.1/demo/${'b'.repeat(64)}`), { recursive: true });
    symlinkSync('../../../../boot', join(sysroot, `ostree/boot.1.1/demo/${'b'.repeat(64)}/0`));
    const out = run(['--dry-run', sysroot], `ostree=/ostree/boot.1/demo/${'b'.repeat(64)}/0`);
    assert.equal(out.status, 1);
    assert.match(out.stderr, /leads to \/boot, not to \/ostree\/deploy\/OS\/deploy\/COMMIT\.SERIAL/);

    spawnSync('rm', ['-rf', join(sysroot, 'ostree/deploy/demo/var')]);
    const noVar = run(['--dry-run', sysroot], ARG);
    assert.equal(noVar.status, 1);
    assert.match(noVar.stderr, /\/ostree\/deploy\/demo\/var is missing: not a deployment/);
  });

  it('refuses / unless it runs as init, and bad arguments', () => {
    assert.equal(run(['--dry-run', '/'], ARG).status, 1);
    assert.match(run(['--dry-run', '/'], ARG).stderr, /can only be prepared as init/);
    assert.equal(run(['a', 'b'], ARG).status, 2);
  });

  it('mounts the deployment as the root in a private mount namespace (as root)', function () {
    if (!isRoot || !have('unshare', ['--version'])) this.skip(); // needs CAP_SYS_ADMIN
    // The initramfs has the physical root mounted; a bind mount of the folder stands for it.
    const script = [
      `mount --bind ${sysroot} ${sysroot}`,
      `sh ${SCRIPT} ${sysroot}`,
      `cat ${sysroot}/etc/hostname`,
      `cat ${sysroot}/var/lib/state`,
      `test -L ${sysroot}/sysroot/ostree/boot.1 && echo sysroot-ok`,
      `test -d ${sysroot}/boot/loader.1 && echo boot-ok`,
      `touch ${sysroot}/usr/bin/x 2>/dev/null || echo usr-ro`,
      `touch ${sysroot}/var/lib/new && echo var-rw`,
    ].join(' && ');
    const r = spawnSync('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script], {
      encoding: 'utf8', env: { ...process.env, CANOPY_CMDLINE: `rw ${ARG}` },
    });
    if (r.status !== 0 && /unshare failed|Operation not permitted/.test(r.stderr)) this.skip(); // no mount namespaces here
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split('\n'), ['deployed', 'kept', 'sysroot-ok', 'boot-ok', 'usr-ro', 'var-rw']);
  });
});
