import { strict as assert } from 'node:assert';
import { isCanopyError } from '../../../agent/src/core/errors';
import {
  assertStateroot, bootlinkTarget, entryFileName, ostreeKargValue, parseBootCsumDirName, parseDeployName, parseOstreeKarg,
} from '../../../agent/src/sysroot/layout';

const C = 'a9aaa0a9'.repeat(8);

describe('sysroot/layout', function () {
  it('parses and builds the ostree= argument', function () {
    const v = ostreeKargValue(1, 'testos', C, 2);
    assert.equal(v, `/ostree/boot.1/testos/${C}/2`);
    assert.deepEqual(parseOstreeKarg(v, 'x'), { bootversion: 1, stateroot: 'testos', bootcsum: C, bootserial: 2 });
  });

  it('refuses malformed ostree= values, naming where', function () {
    for (const bad of ['/ostree/boot.2/os/c/0', `/ostree/boot.0/os/${C}/x`, `ostree/boot.0/os/${C}/0`, '/ostree/boot.0/os/notacsum/0', `/ostree/boot.0/../${C}/0`, `/ostree/boot.0/os/${C}/0/extra`]) {
      assert.throws(() => parseOstreeKarg(bad, 'entry.conf'), (e: unknown) => isCanopyError(e, 'ERR_SYSROOT_INVALID') && /entry\.conf/.test((e as Error).message), bad);
    }
  });

  it('deployment and boot directory names', function () {
    assert.deepEqual(parseDeployName(`${C}.12`), { csum: C, serial: 12 });
    assert.equal(parseDeployName(`${C}.x`), undefined);
    assert.equal(parseDeployName('abc.0'), undefined);
    assert.deepEqual(parseBootCsumDirName(`my-os-${C}`), { os: 'my-os', bootcsum: C });
    assert.equal(parseBootCsumDirName('initramfs-overlays'), undefined);
    assert.equal(bootlinkTarget('os', C, 0), `../../../deploy/os/deploy/${C}.0`);
    assert.equal(entryFileName(2, 'testos'), 'ostree-2-testos.conf');
  });

  it('stateroot names must be safe in paths and kernel arguments', function () {
    assert.equal(assertStateroot('fedora-coreos'), 'fedora-coreos');
    for (const bad of ['', '../x', 'a b', 'a/b', '-x', 'x\n']) assert.throws(() => assertStateroot(bad), (e: unknown) => isCanopyError(e, 'ERR_INVALID_ARGUMENT'), bad);
  });
});
