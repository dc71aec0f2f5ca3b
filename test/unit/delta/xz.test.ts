import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { isCanopyError } from '../../../agent/src/core/errors';
import { crc32 } from '../../../agent/src/delta/crc';
import { xzDecompress, isXz } from '../../../agent/src/delta/xz';

function haveXz(): boolean {
  return spawnSync('xz', ['--version']).status === 0;
}

function xz(input: Uint8Array, args: string[]): Buffer {
  const r = spawnSync('xz', ['-c', ...args], { input, maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`xz ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

function expectCode(fn: () => unknown, code: string): void {
  assert.throws(fn, (e: unknown) => isCanopyError(e) && e.code === code);
}

/** Text-like data that compresses well but has structure. */
function textish(n: number): Buffer {
  const words = ['ostree', 'delta', 'part', 'commit', 'dirtree', 'canopy', 'lzma', '\n', ' ', 'x'];
  const out: string[] = [];
  let len = 0;
  let seed = 7;
  while (len < n) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    const w = words[seed % words.length];
    out.push(w);
    len += w.length;
  }
  return Buffer.from(out.join('')).subarray(0, n);
}

describe('delta/xz', function () {
  before(function () {
    if (!haveXz()) {
      console.log('    (xz not installed: skipping; install the Debian package xz-utils)');
      this.skip();
    }
  });

  const inputs: Array<[string, Buffer]> = [
    ['empty', Buffer.alloc(0)],
    ['one byte', Buffer.from([0x42])],
    ['text 1 KiB', textish(1024)],
    ['text 300 KiB', textish(300_000)],
    ['random 200 KiB', randomBytes(200_000)],
    ['mixed 3 MiB', Buffer.concat([randomBytes(500_000), textish(2_000_000), Buffer.alloc(700_000, 0x61)])],
  ];
  const variants: string[][] = [
    ['-6'],
    ['-0', '--check=crc32'],
    ['-9e', '--check=sha256'],
    ['-1', '--check=none'],
    ['--lzma2=preset=6,dict=32MiB', '--check=crc64'],
    ['--lzma2=lc=0,lp=2,pb=0'],
    ['-3', '--block-size=65536'],
  ];

  for (const [name, data] of inputs) {
    it(`decodes xz output of ${name} (${data.length} bytes) in every variant`, function () {
      for (const v of variants) {
        if (data.length > 1_000_000 && v.includes('-9e')) continue; // keep the suite fast
        const c = xz(data, v);
        assert.ok(isXz(c));
        const out = xzDecompress(c, { maxSize: data.length });
        assert.equal(Buffer.compare(Buffer.from(out), data), 0, `mismatch with ${v.join(' ')}`);
      }
    });
  }

  it('decodes concatenated streams with stream padding between and after them', function () {
    const a = textish(5000);
    const b = randomBytes(3000);
    const c = Buffer.concat([xz(a, ['-6']), Buffer.alloc(8), xz(b, ['--check=crc32']), Buffer.alloc(4)]);
    assert.deepEqual(Buffer.from(xzDecompress(c, { maxSize: 8000 })), Buffer.concat([a, b]));
  });

  it('refuses a decompression bomb before allocating its output', function () {
    const c = xz(Buffer.alloc(16 * 1024 * 1024), ['-6']);
    assert.ok(c.length < 5_000);
    expectCode(() => xzDecompress(c, { maxSize: 1024 * 1024 }), 'ERR_DECOMPRESS_TOO_LARGE');
    // One byte under the real size is still too large.
    expectCode(() => xzDecompress(c, { maxSize: 16 * 1024 * 1024 - 1 }), 'ERR_DECOMPRESS_TOO_LARGE');
  });

  it('refuses truncated streams at every cut', function () {
    const c = xz(textish(20_000), ['-6']);
    for (const cut of [1, 4, 11, 12, 13, 40, c.length >> 1, c.length - 13, c.length - 12, c.length - 4, c.length - 1]) {
      assert.throws(() => xzDecompress(c.subarray(0, cut), { maxSize: 1 << 20 }), (e: unknown) => isCanopyError(e) && e.code === 'ERR_XZ_CORRUPT', `cut at ${cut}`);
    }
  });

  it('detects a corrupted CRC64 and a corrupted SHA-256 check', function () {
    for (const check of ['crc64', 'crc32', 'sha256']) {
      const data = textish(10_000);
      const c = Buffer.from(xz(data, [`--check=${check}`]));
      // The check sits just before the index (index = 0x00, count, records, padding, crc32).
      const size = check === 'sha256' ? 32 : check === 'crc64' ? 8 : 4;
      const footer = c.length - 12;
      const indexSize = (c.readUInt32LE(footer + 4) + 1) * 4;
      const checkAt = footer - indexSize - size;
      c[checkAt] ^= 0x01;
      expectCode(() => xzDecompress(c, { maxSize: 1 << 20 }), 'ERR_XZ_CORRUPT');
      // Input authenticated by other means (a delta part's sha256) may skip the checks.
      assert.ok(Buffer.from(xzDecompress(c, { maxSize: 1 << 20, skipCheck: true })).equals(data));
    }
  });

  it('refuses filters other than LZMA2 and x86 (ARM branch filter, delta filter) as unsupported', function () {
    expectCode(() => xzDecompress(xz(randomBytes(4096), ['--arm', '--lzma2']), { maxSize: 1 << 20 }), 'ERR_XZ_UNSUPPORTED');
    expectCode(() => xzDecompress(xz(randomBytes(4096), ['--delta=dist=4', '--lzma2']), { maxSize: 1 << 20 }), 'ERR_XZ_UNSUPPORTED');
  });

  describe('x86 branch filter (xz --x86)', function () {
    /** Bytes dense in E8/E9 opcodes followed by operands whose top byte is 00 or FF, and runs of them. */
    function branchy(n: number, seed: number): Buffer {
      const out = Buffer.alloc(n);
      let x = seed >>> 0;
      const next = (): number => (x = (Math.imul(x, 1664525) + 1013904223) >>> 0);
      for (let i = 0; i < n; i++) {
        const r = next() % 16;
        out[i] = r < 4 ? 0xe8 : r < 6 ? 0xe9 : r < 9 ? 0x00 : r < 11 ? 0xff : next() & 0xff;
      }
      return out;
    }

    it('decodes what xz --x86 encodes: executables, branch-dense data, short inputs', function () {
      const samples: Buffer[] = [branchy(100_000, 1), branchy(7, 2), branchy(4, 3), Buffer.from([0xe8, 0, 0, 0, 0]), randomBytes(50_000)];
      for (const bin of ['/bin/sh', '/usr/bin/env', '/usr/bin/xz']) {
        try {
          samples.push(readFileSync(bin));
        } catch {
          /* not on this machine */
        }
      }
      for (const data of samples) {
        const c = xz(data, ['--x86', '--lzma2=preset=6']);
        assert.ok(Buffer.from(xzDecompress(c, { maxSize: data.length })).equals(data), `round trip of ${data.length} bytes`);
      }
    });

    it('honours a start offset given in the filter properties', function () {
      const data = branchy(20_000, 9);
      const c = xz(data, ['--x86=start=4096', '--lzma2=preset=1']);
      assert.ok(Buffer.from(xzDecompress(c, { maxSize: data.length })).equals(data));
    });

    it('round-trips random branch-dense inputs (property)', function () {
      fc.assert(fc.property(fc.integer({ min: 0, max: 2000 }), fc.integer(), (n, seed) => {
        const data = branchy(n, seed);
        return Buffer.from(xzDecompress(xz(data, ['--x86', '--lzma2=preset=0']), { maxSize: n })).equals(data);
      }), { numRuns: 40 });
    });
  });

  it('refuses data that is not xz (legacy .lzma, raw bytes)', function () {
    expectCode(() => xzDecompress(xz(textish(100), ['--format=lzma']), { maxSize: 1000 }), 'ERR_XZ_CORRUPT');
    expectCode(() => xzDecompress(Buffer.from('hello world!'), { maxSize: 1000 }), 'ERR_XZ_CORRUPT');
  });

  /** Rewrites the single block's uncompressed size in the index (same varint length) and fixes the index CRC. */
  function lieAboutSize(c: Buffer, delta: number): Buffer {
    const out = Buffer.from(c);
    const footer = out.length - 12;
    const indexSize = (out.readUInt32LE(footer + 4) + 1) * 4;
    const idx = footer - indexSize;
    let p = idx + 2; // indicator, record count (1)
    while (out[p] & 0x80) p++; // unpadded size
    p++;
    const start = p;
    let v = 0;
    let scale = 1;
    while (true) {
      v += (out[p] & 0x7f) * scale;
      if (!(out[p++] & 0x80)) break;
      scale *= 128;
    }
    let w = v + delta;
    for (let q = start; q < p; q++) {
      out[q] = (w & 0x7f) | (q < p - 1 ? 0x80 : 0);
      w = Math.floor(w / 128);
    }
    out.writeUInt32LE(crc32(out, idx, footer - 4), footer - 4);
    return out;
  }

  it('does not trust the index: a block producing more or fewer bytes than declared is corrupt', function () {
    const data = textish(50_000);
    const c = xz(data, ['-6']);
    assert.throws(() => xzDecompress(lieAboutSize(c, -1), { maxSize: 1 << 20 }), (e: unknown) => isCanopyError(e, 'ERR_XZ_CORRUPT') && /past the declared output size/.test(e.message));
    assert.throws(() => xzDecompress(lieAboutSize(c, +1), { maxSize: 1 << 20 }), (e: unknown) => isCanopyError(e, 'ERR_XZ_CORRUPT') && /the index says/.test(e.message));
  });

  it('the LZMA decoder itself survives corruption when there is no check to catch it', function () {
    const data = Buffer.concat([textish(3000), randomBytes(300), textish(3000)]);
    const good = xz(data, ['-6', '--check=none']);
    fc.assert(
      fc.property(fc.nat(good.length - 1), fc.integer({ min: 1, max: 255 }), (at, x) => {
        const c = Buffer.from(good);
        c[at] ^= x;
        try {
          assert.equal(xzDecompress(c, { maxSize: data.length }).length, data.length);
        } catch (e) {
          assert.ok(isCanopyError(e), `unexpected ${String(e)}`);
        }
      }),
      { numRuns: 400 },
    );
  });

  it('never fails with anything but a CanopyError on corrupted input, and never returns more than maxSize', function () {
    const data = Buffer.concat([textish(3000), randomBytes(500), textish(3000)]);
    const good = xz(data, ['-6']);
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(good.length - 1), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 }), (flips) => {
        const c = Buffer.from(good);
        for (const [at, x] of flips) c[at] ^= x;
        try {
          const out = xzDecompress(c, { maxSize: data.length });
          // Only flips that xz's checks cannot see (none, here) could get through.
          assert.deepEqual(Buffer.from(out), data);
        } catch (e) {
          assert.ok(isCanopyError(e), `unexpected ${String(e)}`);
        }
      }),
      { numRuns: 300 },
    );
  });
});
