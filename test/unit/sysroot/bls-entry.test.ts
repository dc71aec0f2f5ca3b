import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { BlsEntry, strverscmp } from '../../../agent/src/sysroot/bls-entry';
import { isCanopyError } from '../../../agent/src/core/errors';

describe('sysroot/bls-entry', function () {
  it('writes the fixed keys in ostree order, then overlay initrds, then other keys in the order set', function () {
    const e = new BlsEntry();
    e.set('x-custom', '1');
    e.set('linux', '/ostree/os-c/vmlinuz-6.1.0');
    e.set('initrd', '/ostree/os-c/initramfs-6.1.0.img');
    e.set('options', 'root=LABEL=rootfs ostree=/ostree/boot.0/os/c/0');
    e.set('version', '2');
    e.set('devicetree', '/ostree/os-c/devicetree-6.1.0');
    e.set('title', 'TestOS 42 2.0 (ostree:0)');
    e.overlayInitrds = ['/ostree/initramfs-overlays/a.img'];
    assert.equal(e.serialize(), [
      'title TestOS 42 2.0 (ostree:0)', 'version 2', 'options root=LABEL=rootfs ostree=/ostree/boot.0/os/c/0',
      'devicetree /ostree/os-c/devicetree-6.1.0', 'linux /ostree/os-c/vmlinuz-6.1.0', 'initrd /ostree/os-c/initramfs-6.1.0.img',
      'initrd /ostree/initramfs-overlays/a.img', 'x-custom 1', '',
    ].join('\n'));
  });

  it('reads as ostree does: lines starting with a letter, split at the first space or tab, later keys win, second initrd is an overlay', function () {
    const e = BlsEntry.parse('# comment\ntitle A  B\n version 9\noptions\tq=1 r\nversion 3\nlonely\ninitrd /i\ninitrd /o1\ninitrd /o2\n', 'test');
    assert.equal(e.get('title'), 'A  B');
    assert.equal(e.get('version'), '3');
    assert.equal(e.get('options'), 'q=1 r');
    assert.equal(e.get('lonely'), undefined);
    assert.equal(e.get('initrd'), '/i');
    assert.deepEqual(e.overlayInitrds, ['/o1', '/o2']);
  });

  it('refuses oversized entries, NUL, and values that would inject a line', function () {
    assert.throws(() => BlsEntry.parse('title x\n'.repeat(10000), 'big'), (e: unknown) => isCanopyError(e, 'ERR_SYSROOT_INVALID') && /big/.test((e as Error).message));
    assert.throws(() => BlsEntry.parse('title a\0b\n', 'nul'), (e: unknown) => isCanopyError(e, 'ERR_SYSROOT_INVALID'));
    assert.throws(() => new BlsEntry().set('options', 'a\nlinux /evil'), (e: unknown) => isCanopyError(e, 'ERR_INVALID_ARGUMENT'));
    assert.throws(() => new BlsEntry().set('bad key', 'v'), (e: unknown) => isCanopyError(e, 'ERR_INVALID_ARGUMENT'));
  });

  it('strverscmp orders as glibc documents (000 < 00 < 01 < 010 < 09 < 0 < 1 < 9 < 10)', function () {
    const order = ['000', '00', '01', '010', '09', '0', '1', '9', '10'];
    for (let i = 0; i + 1 < order.length; i++) assert.ok(strverscmp(order[i], order[i + 1]) < 0, `${order[i]} < ${order[i + 1]}`);
    assert.ok(strverscmp('2', '10') < 0);
    assert.ok(strverscmp('a10', 'a9') > 0);
    assert.equal(strverscmp('7', '7'), 0);
  });

  it('strverscmp agrees with the C library on 2000 generated pairs (python3 ctypes as the oracle)', function () {
    const alphabet = ['0', '1', '9', 'a', '.', '-', '00', '10'];
    let seed = 11;
    const rnd = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    const word = (): string => Array.from({ length: Math.floor(rnd() * 5) }, () => alphabet[Math.floor(rnd() * alphabet.length)]).join('');
    const pairs = Array.from({ length: 2000 }, () => [word(), word()]);
    const py = 'import ctypes,sys,json\nlibc=ctypes.CDLL("libc.so.6")\nprint(json.dumps([(lambda r:(r>0)-(r<0))(libc.strverscmp(a.encode(),b.encode())) for a,b in json.load(sys.stdin)]))';
    const r = spawnSync('python3', ['-c', py], { input: JSON.stringify(pairs), encoding: 'utf8' });
    if (r.error || r.status !== 0) {
      console.log('      skipped: python3 with ctypes is not available');
      this.skip();
    }
    const want = JSON.parse(r.stdout) as number[];
    pairs.forEach(([a, b], i) => assert.equal(Math.sign(strverscmp(a, b)), want[i], `${JSON.stringify(a)} vs ${JSON.stringify(b)}`));
  });
});
