import { strict as assert } from 'node:assert';
import { BlsEntry } from '../../../agent/src/sysroot/bls-entry';
import { planCleanup, type DiskListing } from '../../../agent/src/sysroot/cleanup';
import type { Deployment } from '../../../agent/src/sysroot/deployment';

const A = 'a'.repeat(64);
const B = 'b'.repeat(64);
const K = 'f'.repeat(64);
const OLDK = 'e'.repeat(64);
const dep = (csum: string, serial: number, bootcsum = K): Deployment => ({ index: 0, stateroot: 'os', csum, serial, bootcsum, bootserial: 0, bootconfig: new BlsEntry(), staged: false });

describe('sysroot/cleanup (plan)', function () {
  const disk: DiskListing = {
    deployEntries: [
      { stateroot: 'os', name: `${A}.0`, dir: true }, { stateroot: 'os', name: `${A}.0.origin`, dir: false },
      { stateroot: 'os', name: `${B}.0`, dir: true }, { stateroot: 'os', name: `${B}.0.origin`, dir: false },
      { stateroot: 'os', name: `${B}.1`, dir: true },
      { stateroot: 'os', name: `${B}.7.origin`, dir: false },
      { stateroot: 'os', name: 'lost+found', dir: true },
    ],
    bootDirs: [`os-${K}`, `os-${OLDK}`],
    bootTemps: [`os-${K}/.vmlinuz-6.1.0.tmp`],
    overlays: ['x.img'],
    deploymentRefs: [{ name: 'ostree/0/1/0', checksum: B }, { name: 'ostree/1/0/0', checksum: A }, { name: 'ostree/1/1/3', checksum: A }],
  };

  it('removes other boot versions, stale temporaries, unreferenced deployments with their origins, old kernels; regenerates refs', function () {
    const plan = planCleanup({ bootversion: 1, subbootversion: 1, deployments: [dep(A, 0)] }, disk);
    assert.deepEqual(plan.removeBootversions, [
      'boot/loader.0', 'ostree/boot.0', 'ostree/boot.0.0', 'ostree/boot.0.1', 'ostree/boot.1.0', 'boot/loader.tmp', 'ostree/boot.0.tmp', 'ostree/boot.1.tmp',
    ]);
    assert.deepEqual(plan.removeDeployments, [
      { origin: `ostree/deploy/os/deploy/${B}.0.origin`, dir: `ostree/deploy/os/deploy/${B}.0` },
      { origin: `ostree/deploy/os/deploy/${B}.1.origin`, dir: `ostree/deploy/os/deploy/${B}.1` },
    ]);
    assert.deepEqual(plan.removeOrphanOrigins, [`ostree/deploy/os/deploy/${B}.7.origin`]);
    assert.deepEqual(plan.removeBoot, [`boot/ostree/os-${OLDK}`, `boot/ostree/os-${K}/.vmlinuz-6.1.0.tmp`, 'boot/ostree/initramfs-overlays/x.img']);
    assert.deepEqual(plan.setRefs, [{ name: 'ostree/1/1/0', checksum: A }]);
    assert.deepEqual(plan.deleteRefs, ['ostree/0/1/0', 'ostree/1/0/0', 'ostree/1/1/3']);
  });

  it('keeps every deployment the list references (staged ones too) and their kernels', function () {
    const staged = { ...dep(B, 1, OLDK), staged: true };
    const plan = planCleanup({ bootversion: 0, subbootversion: 1, deployments: [staged, dep(A, 0), dep(B, 0)] }, disk);
    assert.deepEqual(plan.removeDeployments, []);
    assert.deepEqual(plan.removeBoot, [`boot/ostree/os-${K}/.vmlinuz-6.1.0.tmp`, 'boot/ostree/initramfs-overlays/x.img']);
    assert.deepEqual(plan.setRefs.map((r) => r.name), ['ostree/0/1/0', 'ostree/0/1/1', 'ostree/0/1/2']);
  });
});
