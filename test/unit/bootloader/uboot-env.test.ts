import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import fc from 'fast-check';
import { isCanopyError, type ErrorCode } from '../../../agent/src/core/errors';
import {
  UBOOT_ENV_MAX_SIZE, chooseRedundantCopy, nextRedundantWrite, parseUbootEnv, pickRedundantCopy, serializeUbootEnv,
} from '../../../agent/src/bootloader/uboot-env';
import { printenvText, rawEnvCopy, requireTools, run, runOk, tempDir } from './tools';

const enc = new TextEncoder();

function throwsCode(fn: () => unknown, code: ErrorCode, message?: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isCanopyError(e, code), `expected ${code}, got ${String(e)}`);
    if (message) assert.match(e.message, message);
    return true;
  });
}

const SAMPLE = new Map([
  ['bootcmd', 'run distro_bootcmd; echo done'],
  ['bootdelay', '0'],
  ['spaced', 'a b = c=d'],
  ['unicode', 'grüße ✓'],
  ['empty', ''],
]);

describe('bootloader/uboot-env: format', () => {
  it('lays out crc | data with sorted entries, a terminator and zero padding', () => {
    const img = serializeUbootEnv({ foo: 'bar', bootdelay: '0', bootcmd: 'echo hi' }, { size: 0x2000 });
    assert.equal(img.length, 0x2000);
    const text = 'bootcmd=echo hi\0bootdelay=0\0foo=bar\0\0';
    assert.deepEqual(Buffer.from(img.subarray(4, 4 + text.length)).toString('latin1'), text);
    assert.ok(img.subarray(4 + text.length).every((b) => b === 0));
    assert.equal(Buffer.from(img).readUInt32LE(0), crc32(img.subarray(4)));
  });

  it('redundant copies carry the flags byte outside the CRC', () => {
    const img = serializeUbootEnv({ a: '1' }, { size: 64, redundant: true, flags: 7 });
    assert.equal(img[4], 7);
    assert.equal(Buffer.from(img).readUInt32LE(0), crc32(img.subarray(5)));
    assert.deepEqual(parseUbootEnv(img, { size: 64, redundant: true }), { vars: new Map([['a', '1']]), flags: 7 });
  });

  it('keeps the caller order on request and writes big-endian CRCs', () => {
    const img = serializeUbootEnv(new Map([['z', '1'], ['a', '2']]), { size: 32, keepOrder: true, bigEndian: true });
    assert.equal(Buffer.from(img.subarray(4, 12)).toString('latin1'), 'z=1\0a=2\0');
    assert.equal(Buffer.from(img).readUInt32BE(0), crc32(img.subarray(4)));
    assert.deepEqual([...parseUbootEnv(img, { size: 32, bigEndian: true }).vars.keys()], ['z', 'a']);
    throwsCode(() => parseUbootEnv(img, { size: 32 }), 'ERR_ENV_CRC');
  });

  it('ignores stale bytes after the terminator but counts them in the CRC', () => {
    const data = enc.encode('a=1\0\0junk left by libubootenv\0x=y\0\0');
    const img = rawEnvCopy(128, data, { pad: 0xa5 });
    assert.deepEqual(parseUbootEnv(img, { size: 128 }).vars, new Map([['a', '1']]));
    img[100] ^= 1;
    throwsCode(() => parseUbootEnv(img, { size: 128 }), 'ERR_ENV_CRC', /bad CRC/);
  });

  it('reads an empty env (a single NUL) and later duplicates win', () => {
    assert.equal(parseUbootEnv(rawEnvCopy(16, new Uint8Array(0)), { size: 16 }).vars.size, 0);
    const dup = rawEnvCopy(32, enc.encode('a=1\0a=2\0\0'));
    assert.equal(parseUbootEnv(dup, { size: 32 }).vars.get('a'), '2');
  });

  it('fills the data area exactly, and refuses one byte more with ERR_ENV_TOO_LARGE', () => {
    // capacity 60: "k=" + 57 bytes + NUL + terminator = 61 > 60; 56 bytes fits exactly.
    const fit = serializeUbootEnv({ k: 'v'.repeat(56) }, { size: 64 });
    assert.equal(parseUbootEnv(fit, { size: 64 }).vars.get('k'), 'v'.repeat(56));
    throwsCode(() => serializeUbootEnv({ k: 'v'.repeat(57) }, { size: 64 }), 'ERR_ENV_TOO_LARGE', /needs 61 bytes .* holds 60/);
    throwsCode(() => serializeUbootEnv({ k: 'v'.repeat(56) }, { size: 64, redundant: true }), 'ERR_ENV_TOO_LARGE');
  });
});

describe('bootloader/uboot-env: hostile input', () => {
  it('refuses truncated and oversized copies', () => {
    const img = serializeUbootEnv({ a: '1' }, { size: 256 });
    throwsCode(() => parseUbootEnv(img.subarray(0, 255), { size: 256 }), 'ERR_ENV_INVALID', /truncated: 255 bytes, expected 256/);
    throwsCode(() => parseUbootEnv(new Uint8Array(3), { size: 256 }), 'ERR_ENV_INVALID', /truncated/);
    throwsCode(() => parseUbootEnv(new Uint8Array(257), { size: 256 }), 'ERR_ENV_INVALID', /too long/);
  });

  it('refuses a bad CRC, naming both values', () => {
    const img = serializeUbootEnv({ a: '1' }, { size: 256 });
    img[0] ^= 0xff;
    throwsCode(() => parseUbootEnv(img, { size: 256 }), 'ERR_ENV_CRC', /stored 0x[0-9a-f]{8}, computed 0x[0-9a-f]{8}/);
  });

  it('refuses a data area without the terminating empty entry', () => {
    throwsCode(() => parseUbootEnv(rawEnvCopy(16, enc.encode('a=123456789abc')), { size: 16 }), 'ERR_ENV_INVALID', /not NUL-terminated/);
    // erased flash: 0xff everywhere, CRC made to match
    throwsCode(() => parseUbootEnv(rawEnvCopy(64, new Uint8Array(0), { pad: 0xff }), { size: 64 }), 'ERR_ENV_INVALID', /offset 4 /);
  });

  it('refuses entries without "=", with an empty name, or with invalid UTF-8', () => {
    throwsCode(() => parseUbootEnv(rawEnvCopy(32, enc.encode('a=1\0novalue\0\0')), { size: 32 }), 'ERR_ENV_INVALID', /offset 8 has no "="/);
    throwsCode(() => parseUbootEnv(rawEnvCopy(32, enc.encode('=x\0\0')), { size: 32 }), 'ERR_ENV_INVALID', /empty name/);
    throwsCode(() => parseUbootEnv(rawEnvCopy(32, Uint8Array.of(0x61, 0x3d, 0xc3, 0x28, 0, 0)), { size: 32 }), 'ERR_ENV_INVALID', /not valid UTF-8/);
  });

  it('refuses huge, tiny and fractional declared sizes before allocating', () => {
    for (const size of [UBOOT_ENV_MAX_SIZE + 1, 2 ** 31, 5, 0, -1, 1.5, NaN]) {
      throwsCode(() => parseUbootEnv(new Uint8Array(8), { size }), 'ERR_INVALID_ARGUMENT');
      throwsCode(() => serializeUbootEnv({}, { size }), 'ERR_INVALID_ARGUMENT');
    }
    throwsCode(() => serializeUbootEnv({}, { size: 64, redundant: true, flags: 256 }), 'ERR_INVALID_ARGUMENT');
  });

  it('refuses names and values U-Boot cannot store', () => {
    throwsCode(() => serializeUbootEnv({ 'a=b': '1' }, { size: 64 }), 'ERR_ENV_NAME', /contains "="/);
    throwsCode(() => serializeUbootEnv({ '': '1' }, { size: 64 }), 'ERR_ENV_NAME', /is empty/);
    throwsCode(() => serializeUbootEnv({ 'a\0': '1' }, { size: 64 }), 'ERR_ENV_NAME', /NUL/);
    throwsCode(() => serializeUbootEnv({ a: 'x\0y' }, { size: 64 }), 'ERR_ENV_VALUE', /NUL/);
    throwsCode(() => serializeUbootEnv({ a: 'x\ud800' }, { size: 64 }), 'ERR_ENV_VALUE', /surrogate/);
  });
});

describe('bootloader/uboot-env: redundant copies', () => {
  const size = 128;
  const copy = (flags: number, v: string) => serializeUbootEnv({ v }, { size, redundant: true, flags });
  const torn = (flags: number) => {
    const c = copy(flags, 'torn');
    c[40] ^= 0x55;
    return c;
  };

  // [flags A, flags B, expected copy] for two valid copies under the incremental scheme
  const cases: Array<[number, number, 0 | 1]> = [[1, 2, 1], [2, 1, 0], [255, 0, 1], [0, 255, 0], [254, 255, 1], [5, 5, 0], [0, 1, 1], [3, 200, 1]];
  for (const [fa, fb, want] of cases) {
    it(`flags ${fa} vs ${fb} -> copy ${want}`, () => {
      const pick = pickRedundantCopy(copy(fa, 'A'), copy(fb, 'B'), { size });
      assert.equal(pick.copy, want);
      assert.equal(pick.vars.get('v'), want === 0 ? 'A' : 'B');
      assert.deepEqual(pick.valid, [true, true]);
    });
  }

  it('a copy with a bad CRC never wins, whatever its flags', () => {
    assert.equal(pickRedundantCopy(copy(3, 'A'), torn(4), { size }).copy, 0);
    assert.equal(pickRedundantCopy(torn(0), copy(255, 'B'), { size }).copy, 1);
    assert.deepEqual(pickRedundantCopy(copy(3, 'A'), new Uint8Array(10), { size }).valid, [true, false]);
    throwsCode(() => pickRedundantCopy(torn(1), torn(2), { size }), 'ERR_ENV_CRC', /neither/);
  });

  it('a CRC-valid but malformed current copy is an error, not a silent fallback', () => {
    const bad = rawEnvCopy(size, enc.encode('noequals\0\0'), { redundant: true, flags: 9 });
    throwsCode(() => pickRedundantCopy(copy(8, 'A'), bad, { size }), 'ERR_ENV_INVALID');
  });

  it('boolean scheme: active beats obsolete, equal picks the first, erased 0xff wins', () => {
    const s = (flags: number) => ({ crcOk: true, flags });
    assert.equal(chooseRedundantCopy(s(1), s(0), 'boolean'), 0);
    assert.equal(chooseRedundantCopy(s(0), s(1), 'boolean'), 1);
    assert.equal(chooseRedundantCopy(s(1), s(1), 'boolean'), 0);
    assert.equal(chooseRedundantCopy(s(0xff), s(0), 'boolean'), 0);
    assert.equal(chooseRedundantCopy(s(0), s(0xff), 'boolean'), 1);
    assert.equal(chooseRedundantCopy(s(1), { crcOk: false, flags: 1 }, 'boolean'), 0);
    // the incremental scheme reads 0 vs 1 as a counter
    assert.equal(chooseRedundantCopy(s(1), s(0), 'incremental'), 0);
    assert.equal(chooseRedundantCopy(s(0xff), s(0), 'incremental'), 1);
  });

  it('plans the next write on the other copy with the next counter value', () => {
    assert.deepEqual(nextRedundantWrite({ copy: 0, flags: 4 }), { copy: 1, flags: 5 });
    assert.deepEqual(nextRedundantWrite({ copy: 1, flags: 255 }), { copy: 0, flags: 0 });
    assert.deepEqual(nextRedundantWrite(null), { copy: 0, flags: 1 });
    assert.deepEqual(nextRedundantWrite({ copy: 1, flags: 1 }, 'boolean'), { copy: 0, flags: 1, obsolete: 1 });
  });

  it('a chain of planned writes always makes the newest copy current, across the wrap', () => {
    let a = copy(250, 'gen0');
    let b = copy(0, 'torn');
    b[50] ^= 1;
    for (let gen = 1; gen <= 12; gen++) {
      const cur = pickRedundantCopy(a, b, { size });
      assert.equal(cur.vars.get('v'), `gen${gen - 1}`);
      const plan = nextRedundantWrite(cur);
      const img = copy(plan.flags, `gen${gen}`);
      if (plan.copy === 0) a = img;
      else b = img;
    }
    assert.equal(pickRedundantCopy(a, b, { size }).vars.get('v'), 'gen12');
  });
});

describe('bootloader/uboot-env: property', () => {
  const name = fc.string({ unit: 'binary', minLength: 1, maxLength: 24 }).filter((s) => !/[=\0]/.test(s));
  const value = fc.string({ unit: 'binary', maxLength: 40 }).filter((s) => !s.includes('\0'));

  it('parse(serialize(vars)) = vars, plain and redundant, either byte order', () => {
    fc.assert(fc.property(
      fc.dictionary(name, value, { maxKeys: 16 }), fc.boolean(), fc.boolean(), fc.integer({ min: 0, max: 255 }),
      (record, redundant, bigEndian, flags) => {
        const layout = { size: 0x2000, redundant, bigEndian };
        const img = serializeUbootEnv(record, { ...layout, flags });
        const parsed = parseUbootEnv(img, layout);
        assert.deepEqual(Object.fromEntries(parsed.vars), { ...record });
        assert.equal(parsed.flags, redundant ? flags : undefined);
      }), { numRuns: 300 });
  });
});

describe('bootloader/uboot-env: against fw_printenv, fw_setenv and mkenvimage', function () {
  let dir = '';
  let cleanup = async (): Promise<void> => {};
  before(async function () {
    requireTools(this, 'libubootenv-tool, u-boot-tools', 'fw_printenv', 'fw_setenv', 'mkenvimage');
    ({ dir, cleanup } = await tempDir());
  });
  after(() => cleanup());

  async function plain(img: Uint8Array, size: number): Promise<string> {
    await writeFile(join(dir, 'env.bin'), img);
    await writeFile(join(dir, 'fw_env.config'), `${join(dir, 'env.bin')} 0x0 0x${size.toString(16)}\n`);
    return join(dir, 'fw_env.config');
  }

  it('fw_printenv prints exactly the variables Canopy wrote', async () => {
    const cfg = await plain(serializeUbootEnv(SAMPLE, { size: 0x2000 }), 0x2000);
    assert.equal(runOk('fw_printenv', ['-c', cfg]), printenvText(SAMPLE));
    assert.equal(runOk('fw_printenv', ['-c', cfg, '-n', 'spaced']), 'a b = c=d\n');
  });

  it('fw_setenv output matches Canopy byte for byte up to the terminator, and Canopy reads its changes', async () => {
    const cfg = await plain(serializeUbootEnv(SAMPLE, { size: 0x2000 }), 0x2000);
    runOk('fw_setenv', ['-c', cfg, 'added', 'x=1 y']);
    runOk('fw_setenv', ['-c', cfg, 'bootdelay']); // delete: shrinks the env, leaves stale bytes
    runOk('fw_setenv', ['-c', cfg, 'multi', 'line1\nline2']);
    const written = new Uint8Array(await readFile(join(dir, 'env.bin')));
    const expected = new Map(SAMPLE);
    expected.delete('bootdelay');
    expected.set('added', 'x=1 y').set('multi', 'line1\nline2');
    assert.deepEqual(parseUbootEnv(written, { size: 0x2000 }).vars, new Map([...expected].sort((a, b) => Buffer.compare(Buffer.from(a[0]), Buffer.from(b[0])))));
    const ours = serializeUbootEnv(expected, { size: 0x2000 });
    const used = Buffer.from(ours).indexOf('\0\0', 4) + 2; // entries plus terminator
    assert.ok(used > 100);
    assert.deepEqual(written.subarray(4, used), ours.subarray(4, used));
  });

  it('keeps ".flags" as an ordinary variable; libubootenv hides it and rewrites it', async () => {
    const vars = new Map([['.flags', 'bootdelay:dw'], ['a', '1'], ['bootdelay', '0']]);
    const cfg = await plain(serializeUbootEnv(vars, { size: 0x100 }), 0x100);
    assert.equal(runOk('fw_printenv', ['-c', cfg]), 'a=1\nbootdelay=0\n');
    runOk('fw_setenv', ['-c', cfg, 'b', '2']);
    const back = parseUbootEnv(new Uint8Array(await readFile(join(dir, 'env.bin'))), { size: 0x100 }).vars;
    // libubootenv 0.3.2 regenerates .flags after the sorted variables; unknown access letters become "a"
    assert.deepEqual([...back], [['a', '1'], ['b', '2'], ['bootdelay', '0'], ['.flags', 'bootdelay:da']]);
  });

  it('fw_printenv reads an env that fills the data area exactly', async () => {
    const cfg = await plain(serializeUbootEnv({ k: 'v'.repeat(0x100 - 4 - 4) }, { size: 0x100 }), 0x100);
    assert.equal(runOk('fw_printenv', ['-c', cfg, '-n', 'k']), `${'v'.repeat(0x100 - 8)}\n`);
  });

  it('fw_printenv refuses what Canopy refuses: a flipped bit', async () => {
    const img = serializeUbootEnv(SAMPLE, { size: 0x2000 });
    img[0x1000] ^= 1;
    const cfg = await plain(img, 0x2000);
    assert.notEqual(run('fw_printenv', ['-c', cfg]).status, 0);
    throwsCode(() => parseUbootEnv(img, { size: 0x2000 }), 'ERR_ENV_CRC');
  });

  for (const flags of [[], ['-r'], ['-p', '0'], ['-b'], ['-r', '-b']]) {
    it(`parses mkenvimage ${flags.join(' ') || '(defaults)'} output with identical variables`, async () => {
      const text = 'bootcmd=run distro_bootcmd\nbootdelay=0\nspaced=a b = c\nunicode=grüße\n';
      await writeFile(join(dir, 'env.txt'), text);
      runOk('mkenvimage', ['-s', '0x4000', ...flags, '-o', join(dir, 'mk.bin'), join(dir, 'env.txt')]);
      const img = new Uint8Array(await readFile(join(dir, 'mk.bin')));
      const redundant = flags.includes('-r');
      const parsed = parseUbootEnv(img, { size: 0x4000, redundant, bigEndian: flags.includes('-b') });
      assert.deepEqual(parsed.vars, new Map(text.trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)])));
      assert.equal(parsed.flags, redundant ? 1 : undefined); // mkenvimage -r writes flags 1
      if (!flags.includes('-p')) assert.equal(img[img.length - 1], 0xff); // default padding is 0xff
    });
  }

  it('random variables round-trip through fw_printenv', async () => {
    const printable = fc.string({ unit: fc.constantFrom(...'abcXYZ019 _-.:/=,;$%{}!\'"'), maxLength: 30 });
    const key = fc.string({ unit: fc.constantFrom(...'abcxyz_019.'), minLength: 1, maxLength: 12 });
    await fc.assert(fc.asyncProperty(fc.dictionary(key, printable, { maxKeys: 10 }), async (record) => {
      const cfg = await plain(serializeUbootEnv(record, { size: 0x1000 }), 0x1000);
      const out = run('fw_printenv', ['-c', cfg]);
      assert.equal(out.status, 0);
      assert.equal(out.stdout, printenvText(record));
    }), { numRuns: 15 });
  });
});
