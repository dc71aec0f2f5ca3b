import { strict as assert } from 'node:assert';
import { BlsEntry } from '../../../agent/src/sysroot/bls-entry';
import type { BootOutput } from '../../../agent/src/sysroot/boot-output';
import type { Deployment } from '../../../agent/src/sysroot/deployment';
import { assignBootserials, decideSwap, entryFor, planBootswap, planSubboot, type DeploymentFacts } from '../../../agent/src/sysroot/write-plan';

const K1 = '1'.repeat(64);
const K2 = '2'.repeat(64);
function dep(csum: string, bootcsum: string, options = 'root=LABEL=rootfs', os = 'testos'): Deployment {
  const bootconfig = new BlsEntry();
  bootconfig.set('options', options);
  return { index: 0, stateroot: os, csum: csum.padEnd(64, '0'), serial: 0, bootcsum, bootserial: -1, bootconfig, staged: false };
}
const layout = (bootcsum: string, opts: { initramfs?: boolean; devicetree?: 'file' | 'dir' } = {}): DeploymentFacts['layout'] => ({
  bootcsum,
  kernel: { src: '/t/vmlinuz', name: 'vmlinuz-6.1.0' },
  ...(opts.initramfs === false ? {} : { initramfs: { src: '/t/initramfs.img', name: 'initramfs-6.1.0.img' } }),
  ...(opts.devicetree === 'dir' ? { dtbDir: { src: '/t/dtb', name: 'dtb' } } : opts.devicetree === 'file' ? { devicetree: { src: '/t/devicetree', name: 'devicetree-6.1.0' } } : {}),
});
const recording = (): BootOutput & { seen: BlsEntry[] } => {
  const o = { name: 'uboot' as const, seen: [] as BlsEntry[], render: ({ entries }: { entries: readonly BlsEntry[] }) => { o.seen = [...entries]; return [{ name: 'uEnv.txt', content: `n=${entries.length}\n` }]; } };
  return o;
};

describe('sysroot/write-plan', function () {
  it('bootserials count deployments per boot checksum', function () {
    const l = assignBootserials([dep('a', K1), dep('b', K2), dep('c', K1)]);
    assert.deepEqual(l.map((d) => [d.index, d.bootserial]), [[0, 0], [1, 0], [2, 1]]);
  });

  it('decides noop, sub-bootversion swap or full swap as ostree does', function () {
    const v = (): string => '1.0';
    const a = dep('a', K1);
    const b = dep('b', K1);
    assert.equal(decideSwap([a], [a], v), 'noop');
    assert.equal(decideSwap([a], [b], v), 'subboot', 'same kernel, kargs and version: only the bootlinks change');
    assert.equal(decideSwap([a], [b], (c) => (c === a.csum ? '1.0' : '2.0')), 'bootswap', 'the title changes with the version');
    assert.equal(decideSwap([a], [dep('b', K2)], v), 'bootswap');
    assert.equal(decideSwap([a], [dep('b', K1, 'root=LABEL=other')], v), 'bootswap');
    assert.equal(decideSwap([a], [a, b], v), 'bootswap');
    const withOstree = dep('b', K1, 'root=LABEL=rootfs ostree=/ostree/boot.1/testos/x/0');
    const withOther = dep('a', K1, 'root=LABEL=rootfs ostree=/ostree/boot.0/testos/y/1');
    assert.equal(decideSwap([withOther], [withOstree], v), 'subboot', 'ostree= is ignored');
  });

  it('entries: title with version unless the name has it, os shown with several stateroots, /boot-relative paths, ostree= last or in place', function () {
    const d = { ...dep('a', K1, 'root=LABEL=rootfs ostree=/old quiet'), index: 1, bootserial: 0 };
    const facts: DeploymentFacts = { layout: layout(K1, { devicetree: 'file' }), osName: 'TestOS 42', version: '2.0' };
    const e = entryFor(d, 3, 0, facts, false);
    assert.equal(e.serialize(), [
      'title TestOS 42 2.0 (ostree:1)', 'version 2', `options root=LABEL=rootfs ostree=/ostree/boot.0/testos/${K1}/0 quiet`,
      `devicetree /ostree/testos-${K1}/devicetree-6.1.0`, `linux /ostree/testos-${K1}/vmlinuz-6.1.0`, `initrd /ostree/testos-${K1}/initramfs-6.1.0.img`, '',
    ].join('\n'));
    assert.equal(entryFor(d, 3, 0, { ...facts, osName: 'TestOS 2.0' }, true).get('title'), 'TestOS 2.0 (ostree:testos:1)');
  });

  it('without an initramfs the entry boots ostree-prepare-root as init; a dtb directory becomes fdtdir; non-default entries get bls-append', function () {
    const d = { ...dep('a', K1, ''), index: 1, bootserial: 2 };
    const e = entryFor(d, 2, 1, { layout: layout(K1, { initramfs: false, devicetree: 'dir' }), osName: 'X' }, false, [['x-append', 'yes']]);
    assert.equal(e.get('options'), `init=/ostree/boot.1/testos/${K1}/2/usr/lib/ostree/ostree-prepare-root ostree=/ostree/boot.1/testos/${K1}/2`);
    assert.equal(e.get('fdtdir'), `/ostree/testos-${K1}/dtb`);
    assert.equal(e.get('initrd'), undefined);
    assert.equal(e.get('x-append'), 'yes');
    assert.equal(entryFor({ ...d, index: 0 }, 2, 1, { layout: layout(K1), osName: 'X' }, false, [['x-append', 'yes']]).get('x-append'), undefined);
  });

  it('a full swap targets the other bootversion and the subbootversion opposite to what boot.<B\'> points at', function () {
    const out = recording();
    const plan = planBootswap({
      list: [dep('b', K2), dep('a', K1)], from: 1, targetSub: 0, output: out,
      facts: (d) => ({ layout: layout(d.bootcsum, { devicetree: 'file' }), osName: 'TestOS', systemUenv: 'bootcmd=x\n' }),
    });
    assert.equal(plan.bootversion, 0);
    assert.equal(plan.subbootversion, 1);
    assert.deepEqual(plan.entries.map((e) => e.path), ['boot/loader.0/entries/ostree-2-testos.conf', 'boot/loader.0/entries/ostree-1-testos.conf']);
    assert.deepEqual(plan.bootlinks, [
      { path: `ostree/boot.0.1/testos/${K2}/0`, target: `../../../deploy/testos/deploy/${'b'.padEnd(64, '0')}.0` },
      { path: `ostree/boot.0.1/testos/${K1}/0`, target: `../../../deploy/testos/deploy/${'a'.padEnd(64, '0')}.0` },
    ]);
    assert.deepEqual(plan.kernels.map((k) => k.dir), [`boot/ostree/testos-${K2}`, `boot/ostree/testos-${K1}`]);
    assert.deepEqual(plan.output, [{ path: 'boot/loader.0/uEnv.txt', content: 'n=2\n' }]);
    assert.equal(out.seen[0].get('version'), '2', 'the output sees the new entries, default first');
  });

  it('a sub-bootversion swap only rebuilds the other bootlink farm of the same bootversion', function () {
    const plan = planSubboot([dep('b', K1), dep('a', K1)], 1, 1);
    assert.equal(plan.subbootDir, 'ostree/boot.1.0');
    assert.deepEqual(plan.bootlinks.map((l) => l.path), [`ostree/boot.1.0/testos/${K1}/0`, `ostree/boot.1.0/testos/${K1}/1`]);
  });
});
