import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isCanopyError } from '../../../agent/src/core/errors';
import { xzCompress } from '../../../agent/src/delta/xz-compress';
import { xzDecompress } from '../../../agent/src/delta/xz';

describe('delta/xz-compress', function () {
  before(function () {
    if (spawnSync('xz', ['--version']).status !== 0) {
      console.log('    (xz not installed: skipping; install the Debian package xz-utils)');
      this.skip();
    }
  });

  it('writes what ostree writes (one LZMA2 block, CRC64) and our decoder reads it back', async function () {
    const data = Buffer.from('static delta part '.repeat(10_000));
    const c = await xzCompress(data);
    assert.equal(c[7], 0x04, 'stream flags say CRC64');
    const dir = mkdtempSync(join(tmpdir(), 'canopy-xz-'));
    try {
      writeFileSync(join(dir, 'p.xz'), c);
      const list = spawnSync('xz', ['--robot', '--list', '-vv', join(dir, 'p.xz')], { encoding: 'utf8' }).stdout;
      const totals = list.split('\n').find((l) => l.startsWith('totals'))!.split('\t');
      assert.equal(totals[1], '1', 'one stream');
      assert.equal(totals[2], '1', 'one block');
      assert.match(list, /\tCRC64\t/);
      assert.match(list, /--lzma2=dict=32MiB/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    assert.deepEqual(Buffer.from(xzDecompress(c, { maxSize: data.length })), data);
  });

  it('is deterministic', async function () {
    const data = Buffer.from(Array.from({ length: 50_000 }, (_, i) => (i * i) & 0xff));
    assert.deepEqual(await xzCompress(data, { preset: 1 }), await xzCompress(data, { preset: 1 }));
  });

  it('reports a missing program and a bad preset as CanopyErrors', async function () {
    await assert.rejects(xzCompress(Buffer.from('x'), { xzPath: '/nonexistent/xz' }), (e: unknown) => isCanopyError(e, 'ERR_EXTERNAL_TOOL') && /not installed/.test(e.message));
    assert.throws(() => xzCompress(Buffer.from('x'), { preset: 11 }), (e: unknown) => isCanopyError(e, 'ERR_INVALID_ARGUMENT'));
  });
});
