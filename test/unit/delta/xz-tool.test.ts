/**
 * delta/xz-tool: large xz data decoded by the real `xz` gives the same bytes
 * as the JavaScript decoder; the same bomb guard applies before `xz` runs; a
 * missing program falls back to the JavaScript decoder; corrupt data and
 * output of another size than the index declares are refused with
 * ERR_XZ_CORRUPT, and no output file is left behind.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isCanopyError } from '../../../agent/src/core/errors';
import { xzDecompress } from '../../../agent/src/delta/xz';
import { startXzDecompress, type XzToolOptions } from '../../../agent/src/delta/xz-tool';

function xz(data: Uint8Array, args: string[] = []): Buffer {
  const r = spawnSync('xz', ['--compress', '--stdout', '--check=crc64', ...args], { input: data, maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`xz failed: ${r.stderr}`);
  return r.stdout;
}

/** 3 MiB that compresses, with some noise so it is not trivial. */
function sample(): Buffer {
  const b = Buffer.alloc(3 << 20);
  for (let i = 0; i < b.length; i++) b[i] = (i * 7 + (i >> 9)) & 0xff ^ (i % 1013 === 0 ? 0x5a : 0);
  return b;
}

/** Decompresses at once; a refusal before the tool starts becomes a rejection. */
async function xzDecompressFast(data: Uint8Array, opts: XzToolOptions): Promise<Uint8Array> {
  return startXzDecompress(data, opts).read();
}

describe('delta/xz-tool', () => {
  const data = sample();
  const packed = xz(data);
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'canopy-xz-tool-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('decodes with the xz program what the JavaScript decoder decodes, with and without the integrity check', async () => {
    const viaTool = await xzDecompressFast(packed, { maxSize: data.length, tool: 'xz', scratchDir: dir });
    assert.ok(Buffer.from(viaTool).equals(data));
    const skipped = await xzDecompressFast(packed, { maxSize: data.length, tool: 'xz', skipCheck: true });
    assert.ok(Buffer.from(skipped).equals(data));
    assert.ok(Buffer.from(xzDecompress(packed, { maxSize: data.length })).equals(data));
    // Concatenated streams with padding between them, as the JavaScript decoder accepts.
    const two = Buffer.concat([packed, Buffer.alloc(8), packed]);
    assert.ok(Buffer.from(await xzDecompressFast(two, { maxSize: 2 * data.length, tool: 'xz' })).equals(Buffer.concat([data, data])));
  });

  it('refuses more than maxSize before starting xz', async () => {
    // A program that must never run: the bomb guard comes first.
    const trap = join(dir, 'xz-trap');
    writeFileSync(trap, `#!/bin/sh\ntouch ${join(dir, 'ran')}\nexit 1\n`);
    chmodSync(trap, 0o755);
    await assert.rejects(xzDecompressFast(packed, { maxSize: data.length - 1, tool: trap }), (e) => isCanopyError(e, 'ERR_DECOMPRESS_TOO_LARGE'));
    assert.equal(spawnSync('test', ['-e', join(dir, 'ran')]).status, 1);
  });

  it('falls back to the JavaScript decoder when the program does not exist', async () => {
    const out = await xzDecompressFast(packed, { maxSize: data.length, tool: join(dir, 'no-such-xz') });
    assert.ok(Buffer.from(out).equals(data));
  });

  it('refuses corrupt data with ERR_XZ_CORRUPT and the program\'s reason', async () => {
    const bad = Buffer.from(packed);
    bad[Math.floor(bad.length / 2)] ^= 0xff;
    await assert.rejects(xzDecompressFast(bad, { maxSize: data.length, tool: 'xz' }), (e) => isCanopyError(e, 'ERR_XZ_CORRUPT') && /xz: /.test((e as Error).message));
  });

  it('refuses output that differs from what the index declares', async () => {
    // A stand-in for xz that prints one byte more than the data holds.
    const liar = join(dir, 'xz-liar');
    writeFileSync(liar, `#!/bin/sh\ncat >/dev/null\nhead -c ${data.length + 1} /dev/zero\n`);
    chmodSync(liar, 0o755);
    await assert.rejects(xzDecompressFast(packed, { maxSize: data.length, tool: liar, scratchDir: dir }), (e) => isCanopyError(e, 'ERR_XZ_CORRUPT') && new RegExp(`produced ${data.length + 1} bytes`).test((e as Error).message));
    const short = join(dir, 'xz-short');
    writeFileSync(short, `#!/bin/sh\ncat >/dev/null\nhead -c 10 /dev/zero\n`);
    chmodSync(short, 0o755);
    await assert.rejects(xzDecompressFast(packed, { maxSize: data.length, tool: short, scratchDir: dir }), (e) => isCanopyError(e, 'ERR_XZ_CORRUPT') && /produced 10 bytes/.test((e as Error).message));
    // The output file was unlinked when opened: nothing is left behind.
    assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith('xz-out-')), []);
  });

  it('a started decompression runs in the background until read, and cancel stops it', async () => {
    const job = startXzDecompress(packed, { maxSize: data.length, tool: 'xz', scratchDir: dir });
    await new Promise((r) => setTimeout(r, 50));
    assert.ok(Buffer.from(await job.read()).equals(data));
    job.cancel();
    const stopped = startXzDecompress(packed, { maxSize: data.length, tool: 'xz', scratchDir: dir });
    stopped.cancel();
    await assert.rejects(stopped.read(), (e) => isCanopyError(e, 'ERR_ABORTED'));
    assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith('xz-out-')), []);
  });
});
