import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isCanopyError } from '../../../agent/src/core/errors';
import { findKernelLayout } from '../../../agent/src/sysroot/kernel-layout';
import { removeScratch, scratch } from './fixture';

const sha = (...parts: string[]): string => createHash('sha256').update(parts.join('')).digest('hex');
function put(root: string, rel: string, content: string): void {
  mkdirSync(join(root, rel, '..'), { recursive: true });
  writeFileSync(join(root, rel), content);
}

describe('sysroot/kernel-layout', function () {
  let tmp: string;
  let n = 0;
  const fresh = (): string => join(tmp, `t${n++}`);
  before(() => { tmp = scratch(); });
  after(() => removeScratch(tmp));

  it('usr/lib/modules: bootcsum = sha256(vmlinuz ‖ initramfs ‖ devicetree), installed names with the kernel version', function () {
    const t = fresh();
    put(t, 'usr/lib/modules/6.1.0/vmlinuz', 'kernel\n');
    put(t, 'usr/lib/modules/6.1.0/initramfs.img', 'initrd\n');
    put(t, 'usr/lib/modules/6.1.0/devicetree', 'dtb\n');
    const l = findKernelLayout(t);
    // The reference experiment's checksum of these three files.
    assert.equal(l.bootcsum, sha('kernel\n', 'initrd\n', 'dtb\n'));
    assert.equal(l.bootcsum, '24e4dc32c4d91feb57fd6ac28116fb84dde444645814e5fe7eaf69ab97d6a857');
    assert.deepEqual([l.kernel.name, l.initramfs?.name, l.devicetree?.name], ['vmlinuz-6.1.0', 'initramfs-6.1.0.img', 'devicetree-6.1.0']);
  });

  it('a dtb directory is hashed file by file in sorted order; `initramfs` works too; .vmlinuz.hmac is installed', function () {
    const t = fresh();
    put(t, 'usr/lib/modules/5.10/vmlinuz', 'k');
    put(t, 'usr/lib/modules/5.10/initramfs', 'i');
    put(t, 'usr/lib/modules/5.10/dtb/vendor/b.dtb', 'B');
    put(t, 'usr/lib/modules/5.10/dtb/a.dtb', 'A');
    put(t, 'usr/lib/modules/5.10/.vmlinuz.hmac', 'h');
    const l = findKernelLayout(t);
    assert.equal(l.bootcsum, sha('k', 'i', 'A', 'B'));
    assert.equal(l.dtbDir?.name, 'dtb');
    assert.equal(l.initramfs?.name, 'initramfs-5.10.img');
    assert.equal(l.hmac?.name, '.vmlinuz-5.10.hmac');
  });

  it('the legacy layout takes the checksum from the file names, and wins when only it has an initramfs', function () {
    const t = fresh();
    const c = 'd'.repeat(64);
    put(t, `usr/lib/ostree-boot/vmlinuz-5.4-${c}`, 'k');
    put(t, `usr/lib/ostree-boot/initramfs-5.4.img-${c}`, 'i');
    put(t, 'usr/lib/modules/5.4/vmlinuz', 'k');
    const l = findKernelLayout(t);
    assert.equal(l.bootcsum, c);
    assert.equal(l.kernel.name, 'vmlinuz-5.4');
    assert.equal(l.initramfs?.name, 'initramfs-5.4.img');
  });

  it('legacy checksums must agree; no kernel at all is ERR_KERNEL_NOT_FOUND', function () {
    const t = fresh();
    put(t, `boot/vmlinuz-5.4-${'d'.repeat(64)}`, 'k');
    put(t, `boot/initramfs-5.4.img-${'e'.repeat(64)}`, 'i');
    assert.throws(() => findKernelLayout(t), (e: unknown) => isCanopyError(e, 'ERR_KERNEL_NOT_FOUND'));
    const empty = fresh();
    put(empty, 'usr/lib/ostree-boot/uEnv.txt', 'x');
    assert.throws(() => findKernelLayout(empty), (e: unknown) => isCanopyError(e, 'ERR_KERNEL_NOT_FOUND'));
  });

  it('a kernel symlink that leaves the tree is refused', function () {
    const t = fresh();
    put(t, 'usr/lib/modules/6.1.0/initramfs.img', 'i');
    mkdirSync(join(t, 'usr/lib/modules/6.1.0'), { recursive: true });
    symlinkSync('/etc/passwd', join(t, 'usr/lib/modules/6.1.0/vmlinuz'));
    assert.throws(() => findKernelLayout(t), (e: unknown) => isCanopyError(e, 'ERR_UNSAFE_PATH'));
  });
});
