import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { KernelArgs, applyKargEdits, hasKargEdits } from '../../../agent/src/sysroot/kernel-args';
import { isCanopyError } from '../../../agent/src/core/errors';

describe('sysroot/kernel-args', function () {
  it('replace drops every argument with the key and takes the place of the first', function () {
    const k = KernelArgs.parse('a=1 console=tty0 b console=ttyS0 c');
    k.replace('console=ttyAMA0');
    assert.equal(k.toString(), 'a=1 console=ttyAMA0 b c');
    k.replace('d=4');
    assert.equal(k.toString(), 'a=1 console=ttyAMA0 b c d=4');
  });

  it('replace keeps a bare key bare and `key=` empty (ostree=... replaced in place)', function () {
    const k = KernelArgs.parse('root=LABEL=rootfs quiet ostree=/ostree/boot.1/os/x/0 rw');
    k.replace('ostree=/ostree/boot.0/os/y/1');
    assert.equal(k.toString(), 'root=LABEL=rootfs quiet ostree=/ostree/boot.0/os/y/1 rw');
    k.replace('quiet=');
    assert.equal(k.toString(), 'root=LABEL=rootfs quiet= ostree=/ostree/boot.0/os/y/1 rw');
    assert.equal(k.lastValue('root'), 'LABEL=rootfs', 'the value is everything after the first =');
    assert.equal(k.lastValue('rw'), null);
    assert.equal(k.lastValue('nope'), undefined);
  });

  it('append keeps duplicates; delete by key needs a single value, by key=value removes that one', function () {
    const k = KernelArgs.parse('console=tty0');
    k.append('console=ttyS0');
    assert.equal(k.toString(), 'console=tty0 console=ttyS0');
    assert.throws(() => k.delete('console'), (e: unknown) => isCanopyError(e, 'ERR_INVALID_ARGUMENT') && /several values/.test((e as Error).message));
    k.delete('console=tty0');
    assert.equal(k.toString(), 'console=ttyS0');
    assert.throws(() => k.delete('console=tty9'), (e: unknown) => isCanopyError(e, 'ERR_INVALID_ARGUMENT'));
    k.delete('console');
    assert.equal(k.toString(), '');
    assert.throws(() => k.delete('quiet'), (e: unknown) => isCanopyError(e, 'ERR_INVALID_ARGUMENT'));
  });

  it('edits apply in ostree order: replace, append, delete', function () {
    const base = KernelArgs.parse('root=/dev/sda quiet');
    const k = applyKargEdits(base, { replace: ['root=/dev/sdb'], append: ['x=1', 'x=2'], delete: ['quiet', 'x=1'] });
    assert.equal(k.toString(), 'root=/dev/sdb x=2');
    assert.equal(base.toString(), 'root=/dev/sda quiet', 'the base is not changed');
    assert.equal(hasKargEdits({}), false);
    assert.equal(hasKargEdits({ append: ['a'] }), true);
  });

  it('parse and toString round-trip any line split on single spaces (empty arguments included)', function () {
    fc.assert(fc.property(fc.array(fc.stringMatching(/^[a-z=/.0-9]{0,8}$/), { maxLength: 12 }), (words) => {
      const line = words.join(' ');
      assert.equal(KernelArgs.parse(line).toString(), line);
    }));
  });

  it('refuses a command line over 64 KiB', function () {
    assert.throws(() => KernelArgs.parse('a'.repeat(65 * 1024)), (e: unknown) => isCanopyError(e, 'ERR_INVALID_ARGUMENT'));
  });
});
