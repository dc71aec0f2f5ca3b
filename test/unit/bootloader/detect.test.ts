import assert from 'node:assert/strict';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isCanopyError } from '../../../agent/src/core/errors';
import { detectBootloader, type BootloaderChoice } from '../../../agent/src/bootloader/detect';
import { tempDir } from './tools';

describe('bootloader/detect: detectBootloader (ostree\'s probes)', () => {
  let dir = '';
  let cleanup = async (): Promise<void> => {};
  beforeEach(async () => {
    ({ dir, cleanup } = await tempDir());
    await mkdir(join(dir, 'boot'));
  });
  afterEach(() => cleanup());
  const file = async (rel: string, text = ''): Promise<void> => {
    await mkdir(join(dir, rel, '..'), { recursive: true });
    await writeFile(join(dir, rel), text);
  };

  it('finds nothing in an empty sysroot', async () => {
    assert.deepEqual(await detectBootloader(dir), { name: 'none', evidence: null });
  });

  it('U-Boot: uEnv.txt must be a regular file behind the boot/loader symlink', async () => {
    await file('boot/loader.0/uEnv.txt');
    await symlink('loader.0', join(dir, 'boot', 'loader'));
    assert.deepEqual(await detectBootloader(dir), { name: 'uboot', evidence: 'boot/loader/uEnv.txt' });
  });

  it('U-Boot: a uEnv.txt that is itself a symlink does not count (ostree queries without following)', async () => {
    await file('boot/loader/real.txt');
    await symlink('real.txt', join(dir, 'boot', 'loader', 'uEnv.txt'));
    assert.equal((await detectBootloader(dir)).name, 'none');
  });

  it('GRUB: BIOS grub.cfg (a dangling symlink does not count), grub2, or an EFI vendor directory', async () => {
    await mkdir(join(dir, 'boot', 'grub'));
    await symlink('../loader/grub.cfg', join(dir, 'boot', 'grub', 'grub.cfg'));
    assert.equal((await detectBootloader(dir)).name, 'none');
    await file('boot/loader/grub.cfg');
    assert.deepEqual(await detectBootloader(dir), { name: 'grub', evidence: 'boot/grub/grub.cfg' });
  });

  it('GRUB: EFI/BOOT is skipped, another vendor directory counts', async () => {
    await file('boot/efi/EFI/BOOT/grub.cfg');
    assert.equal((await detectBootloader(dir)).name, 'none');
    await file('boot/efi/EFI/debian/grub.cfg');
    assert.deepEqual(await detectBootloader(dir), { name: 'grub', evidence: 'boot/efi/EFI/debian/grub.cfg' });
    await file('boot/grub2/grub.cfg');
    assert.equal((await detectBootloader(dir)).evidence, 'boot/grub2/grub.cfg');
  });

  it('GRUB wins over U-Boot, as in ostree\'s probe order', async () => {
    await file('boot/loader/uEnv.txt');
    await file('boot/grub/grub.cfg');
    assert.equal((await detectBootloader(dir)).name, 'grub');
  });

  it('an explicit choice overrides detection; an unknown one is refused', async () => {
    await file('boot/grub/grub.cfg');
    assert.deepEqual(await detectBootloader(dir, 'uboot'), { name: 'uboot', evidence: 'override' });
    assert.deepEqual(await detectBootloader(dir, 'none'), { name: 'none', evidence: 'override' });
    await assert.rejects(detectBootloader(dir, 'lilo' as BootloaderChoice), (e: unknown) => isCanopyError(e, 'ERR_INVALID_ARGUMENT'));
  });
});
