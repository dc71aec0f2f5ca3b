import { strict as assert } from 'node:assert';
import { statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isCanopyError } from '../../../agent/src/core/errors';
import { SPACE_MARGIN, ensureSpace, freeSpace, mountPointOf } from '../../../agent/src/sysroot/space';

describe('sysroot/space', function () {
  it('names the mount point, the bytes needed and the bytes free', function () {
    const probe = () => ({ mount: '/boot', bytes: 10_000_000, inodes: 100 });
    ensureSpace('/boot/x', { bytes: 10_000_000 - SPACE_MARGIN }, 'kernels', probe);
    assert.throws(() => ensureSpace('/boot/x', { bytes: 10_000_000 }, 'copying kernels', probe), (e: unknown) => {
      assert.ok(isCanopyError(e, 'ERR_NO_SPACE'));
      assert.equal((e as { details: Record<string, unknown> }).details.mount, '/boot');
      assert.equal((e as { details: Record<string, unknown> }).details.neededBytes, 10_000_000 + SPACE_MARGIN);
      assert.match((e as Error).message, /copying kernels needs \d+ bytes on \/boot, which has 10000000 free/);
      return true;
    });
    assert.throws(() => ensureSpace('/', { bytes: 0, inodes: 101 }, 'x', probe), (e: unknown) => isCanopyError(e, 'ERR_NO_SPACE') && /inodes/.test((e as Error).message));
  });

  it('finds the mount point of a real path and reads its free space', function () {
    const m = mountPointOf(tmpdir());
    assert.equal(statSync(m).dev, statSync(tmpdir()).dev);
    assert.ok(freeSpace(`${tmpdir()}/does/not/exist`).bytes > 0);
  });
});
