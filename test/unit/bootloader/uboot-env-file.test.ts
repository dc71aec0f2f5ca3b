import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isCanopyError, type ErrorCode } from '../../../agent/src/core/errors';
import {
  loadFwEnvConfig, nodeEnvBlockIo, parseFwEnvConfig, readUbootEnvFile, updateUbootEnvFile, writeUbootEnvFile,
  type EnvBlockIo, type FwEnvConfig,
} from '../../../agent/src/bootloader/uboot-env-file';
import { parseUbootEnv, serializeUbootEnv } from '../../../agent/src/bootloader/uboot-env';
import { printenvText, requireTools, run, runOk, tempDir } from './tools';

async function rejectsCode(p: Promise<unknown>, code: ErrorCode, message?: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isCanopyError(e, code), `expected ${code}, got ${String(e)}`);
    if (message) assert.match(e.message, message);
    return true;
  });
}

function throwsCode(fn: () => unknown, code: ErrorCode, message?: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isCanopyError(e, code), `expected ${code}, got ${String(e)}`);
    if (message) assert.match(e.message, message);
    return true;
  });
}

describe('bootloader/uboot-env-file: parseFwEnvConfig', () => {
  it('reads sizes as hexadecimal even without 0x, and offsets like strtoll base 0', () => {
    const cfg = parseFwEnvConfig('env.bin 0 2000\n');
    assert.deepEqual(cfg, { devices: [{ path: 'env.bin', offset: 0, size: 0x2000 }], redundant: false, size: 0x2000 });
    assert.equal(parseFwEnvConfig('e 010 100').devices[0].offset, 8);
    assert.equal(parseFwEnvConfig('e 0x10 100').devices[0].offset, 16);
    assert.equal(parseFwEnvConfig('e 16 0x100').devices[0].offset, 16);
    assert.deepEqual(parseFwEnvConfig('/dev/mmcblk0 0x3f8000 0x4000 200 20').devices[0],
      { path: '/dev/mmcblk0', offset: 0x3f8000, size: 0x4000, sectorSize: 0x200, sectors: 0x20 });
  });

  it('skips comments and blank lines, accepts CRLF and trailing comments; two lines are redundant', () => {
    const text = '# MTD device name\tDevice offset\tEnv. size\r\n\r\n  \n/boot/uboot.env 0x0 0x4000 # first\r\n\t/boot/uboot.env 0x4000 0x4000\r\n#/dev/mtd1 0 1000\n';
    const cfg = parseFwEnvConfig(text);
    assert.equal(cfg.redundant, true);
    assert.deepEqual(cfg.devices.map((d) => [d.path, d.offset]), [['/boot/uboot.env', 0], ['/boot/uboot.env', 0x4000]]);
  });

  it('refuses malformed configs with the file and line in the message', () => {
    const bad: Array<[string, RegExp]> = [
      ['', /no environment device/],
      ['env.bin 0\n', /fw_env.config:1: expected/],
      ['a 0 100\nenv.bin zz 100\n', /:2: offset "zz"/],
      ['env.bin 08 100', /offset "08"/],
      ['env.bin -0x4000 0x2000', /negative offsets are not supported/],
      ['env.bin 0 0x100000000', /larger than 0x100000/],
      ['env.bin 0 0', /smaller than the minimum 0x6/],
      ['env.bin 0 100 1000 4 extra', /unexpected "extra"/],
      ['a 0 100\nb 0 100\nc 0 100', /:3: more than two/],
      ['a 0 100\nb 0 200', /differ in size/],
      ['a 0 100\na 0x80 100', /overlap/],
    ];
    for (const [text, re] of bad) throwsCode(() => parseFwEnvConfig(text), 'ERR_CONFIG_INVALID', re);
  });
});

/** An EnvBlockIo whose next write stops after `cut` bytes, as a power cut would leave it. */
function tornWrites(cut: number): EnvBlockIo & { armed: boolean } {
  const io = {
    armed: true,
    read: nodeEnvBlockIo.read,
    async write(path: string, offset: number, bytes: Uint8Array): Promise<void> {
      if (!io.armed) return nodeEnvBlockIo.write(path, offset, bytes);
      io.armed = false;
      await nodeEnvBlockIo.write(path, offset, bytes.subarray(0, cut));
      throw new Error('power cut');
    },
  };
  return io;
}

describe('bootloader/uboot-env-file: store, against fw_printenv and fw_setenv', function () {
  let dir = '';
  let cleanup = async (): Promise<void> => {};
  before(async function () {
    requireTools(this, 'libubootenv-tool', 'fw_printenv', 'fw_setenv');
    ({ dir, cleanup } = await tempDir());
  });
  after(() => cleanup());

  const DEFAULTS = { bootcmd: 'run distro_bootcmd', bootdelay: '2', bootlimit: '3' };

  async function setup(name: string, configText: string, fileSize: number): Promise<{ cfg: FwEnvConfig; cfgPath: string; file: string }> {
    const file = join(dir, `${name}.bin`);
    await writeFile(file, new Uint8Array(fileSize));
    const cfgPath = join(dir, `${name}.config`);
    await writeFile(cfgPath, configText.replaceAll('FILE', file));
    return { cfg: await loadFwEnvConfig(cfgPath), cfgPath, file };
  }

  const printenv = (cfgPath: string): string => runOk('fw_printenv', ['-c', cfgPath]);
  const flagsAt = async (file: string, offset: number): Promise<number> => (await readFile(file))[offset + 4];

  it('plain env: Canopy writes, fw_printenv reads; fw_setenv writes, Canopy reads', async () => {
    const { cfg, cfgPath } = await setup('plain', 'FILE 0x0 0x2000\n', 0x2000);
    await writeUbootEnvFile(cfg, DEFAULTS);
    assert.equal(printenv(cfgPath), printenvText(DEFAULTS));
    const after = await updateUbootEnvFile(cfg, { upgrade_available: '1', bootdelay: null });
    assert.deepEqual(Object.fromEntries(after.vars), { bootcmd: 'run distro_bootcmd', bootlimit: '3', upgrade_available: '1' });
    assert.equal(printenv(cfgPath), printenvText(after.vars));
    runOk('fw_setenv', ['-c', cfgPath, 'bootcount', '1']);
    runOk('fw_setenv', ['-c', cfgPath, 'upgrade_available']);
    const state = await readUbootEnvFile(cfg);
    assert.deepEqual(Object.fromEntries(state.vars), { bootcmd: 'run distro_bootcmd', bootcount: '1', bootlimit: '3' });
    assert.deepEqual(state.valid, [true]);
  });

  it('honours the hex size and octal offset exactly as fw_printenv does, leaving bytes around the env alone', async () => {
    const file = join(dir, 'octal.bin');
    await writeFile(file, new Uint8Array(8 + 0x100 + 8).fill(0xee));
    await writeFile(join(dir, 'octal.config'), 'octal.bin 010 100\n'); // relative path, offset 8, size 0x100
    const cfg = parseFwEnvConfig(await readFile(join(dir, 'octal.config'), 'utf8'));
    await writeUbootEnvFile(cfg, { a: '1' }, { baseDir: dir });
    assert.equal(runOk('fw_printenv', ['-c', 'octal.config'], dir), 'a=1\n');
    const bytes = await readFile(file);
    assert.ok(bytes.subarray(0, 8).every((b) => b === 0xee) && bytes.subarray(8 + 0x100).every((b) => b === 0xee));
  });

  it('blank env: refuses a partial write unless initial variables are given (fw_setenv -f)', async () => {
    const { cfg, cfgPath } = await setup('blank', 'FILE 0x0 0x1000\nFILE 0x1000 0x1000\n', 0x2000);
    await rejectsCode(readUbootEnvFile(cfg), 'ERR_ENV_CRC', /no copy has a valid CRC/);
    await rejectsCode(updateUbootEnvFile(cfg, { a: '1' }), 'ERR_ENV_CRC');
    assert.notEqual(run('fw_printenv', ['-c', cfgPath]).status, 0);
    const state = await updateUbootEnvFile(cfg, { upgrade_available: '0' }, { initial: DEFAULTS });
    assert.deepEqual([state.copy, state.flags, state.valid], [0, 1, [true, false]]);
    assert.equal(printenv(cfgPath), printenvText({ ...DEFAULTS, upgrade_available: '0' }));
  });

  it('redundant env in one file: writes alternate copies with counting flags, interleaved with fw_setenv', async () => {
    const { cfg, cfgPath, file } = await setup('redund', 'FILE 0x0 0x1000\nFILE 0x1000 0x1000\n', 0x2000);
    await writeUbootEnvFile(cfg, DEFAULTS); // blank: copy 0, flags 1
    assert.deepEqual(await writeUbootEnvFile(cfg, { ...DEFAULTS, n: '2' }), { copy: 1, flags: 2 });
    assert.deepEqual(await writeUbootEnvFile(cfg, { ...DEFAULTS, n: '3' }), { copy: 0, flags: 3 });
    assert.equal(printenv(cfgPath), printenvText({ ...DEFAULTS, n: '3' }));
    runOk('fw_setenv', ['-c', cfgPath, 'n', '4']); // libubootenv: the other copy, flags + 1
    assert.deepEqual([await flagsAt(file, 0), await flagsAt(file, 0x1000)], [3, 4]);
    const state = await readUbootEnvFile(cfg);
    assert.deepEqual([state.copy, state.flags, state.vars.get('n')], [1, 4, '4']);
    assert.deepEqual(await writeUbootEnvFile(cfg, state.vars.set('n', '5')), { copy: 0, flags: 5 });
    assert.equal(runOk('fw_printenv', ['-c', cfgPath, '-n', 'n']), '5\n');
  });

  it('redundant env in two files, across the 255 -> 0 wrap of the flags counter', async () => {
    const a = join(dir, 'wrap-a.bin');
    const b = join(dir, 'wrap-b.bin');
    await writeFile(a, serializeUbootEnv({ ...DEFAULTS, n: 'old' }, { size: 0x800, redundant: true, flags: 254 }));
    await writeFile(b, serializeUbootEnv({ ...DEFAULTS, n: 'new' }, { size: 0x800, redundant: true, flags: 255 }));
    const cfgPath = join(dir, 'wrap.config');
    await writeFile(cfgPath, `${a} 0 800\n${b} 0 800\n`);
    const cfg = await loadFwEnvConfig(cfgPath);
    assert.equal((await readUbootEnvFile(cfg)).vars.get('n'), 'new');
    assert.deepEqual(await writeUbootEnvFile(cfg, { ...DEFAULTS, n: 'wrapped' }), { copy: 0, flags: 0 });
    assert.equal(runOk('fw_printenv', ['-c', cfgPath, '-n', 'n']), 'wrapped\n'); // 0 beats 255
    runOk('fw_setenv', ['-c', cfgPath, 'n', 'after']);
    assert.equal((await readFile(b))[4], 1);
    const state = await readUbootEnvFile(cfg);
    assert.deepEqual([state.copy, state.flags, state.vars.get('n')], [1, 1, 'after']);
  });

  it('equal flags: both Canopy and fw_printenv use the first copy', async () => {
    const { cfg, cfgPath, file } = await setup('equal', 'FILE 0x0 0x400\nFILE 0x400 0x400\n', 0x800);
    const img = Buffer.concat([serializeUbootEnv({ n: 'first' }, { size: 0x400, redundant: true, flags: 9 }),
      serializeUbootEnv({ n: 'second' }, { size: 0x400, redundant: true, flags: 9 })]);
    await writeFile(file, img);
    assert.equal(printenv(cfgPath), 'n=first\n');
    assert.equal((await readUbootEnvFile(cfg)).vars.get('n'), 'first');
  });

  it('a torn newest copy: both fall back to the older one, and the next write replaces the torn copy', async () => {
    const { cfg, cfgPath, file } = await setup('tear', 'FILE 0x0 0x1000\nFILE 0x1000 0x1000\n', 0x2000);
    await writeUbootEnvFile(cfg, { ...DEFAULTS, n: 'one' }); // copy 0, flags 1
    await writeUbootEnvFile(cfg, { ...DEFAULTS, n: 'two' }); // copy 1, flags 2
    const bytes = await readFile(file);
    bytes.fill(0xff, 0x1000 + 0x20, 0x1000 + 0x800); // tear copy 1
    await writeFile(file, bytes);
    assert.equal(runOk('fw_printenv', ['-c', cfgPath, '-n', 'n']), 'one\n');
    const state = await readUbootEnvFile(cfg);
    assert.deepEqual([state.copy, state.vars.get('n'), state.valid], [0, 'one', [true, false]]);
    assert.deepEqual(await writeUbootEnvFile(cfg, { ...DEFAULTS, n: 'three' }), { copy: 1, flags: 2 });
    assert.equal(runOk('fw_printenv', ['-c', cfgPath, '-n', 'n']), 'three\n');
    assert.equal((await readFile(file))[4], 1, 'the intact copy was not touched');
  });

  it('a power cut during a write leaves the previous env readable by Canopy and fw_printenv', async () => {
    const { cfg, cfgPath } = await setup('cut', 'FILE 0x0 0x1000\nFILE 0x1000 0x1000\n', 0x2000);
    await writeUbootEnvFile(cfg, { ...DEFAULTS, n: 'one' });
    await writeUbootEnvFile(cfg, { ...DEFAULTS, n: 'two' }); // copy 1 is current
    const io = tornWrites(8); // new CRC and flags landed, the data did not
    await assert.rejects(updateUbootEnvFile(cfg, { n: 'three' }, { io }), /power cut/);
    assert.equal(runOk('fw_printenv', ['-c', cfgPath, '-n', 'n']), 'two\n');
    const state = await readUbootEnvFile(cfg);
    assert.deepEqual([state.copy, state.vars.get('n'), state.valid], [1, 'two', [false, true]]);
    const done = await updateUbootEnvFile(cfg, { n: 'three' }, { io }); // io is disarmed now
    assert.deepEqual([done.copy, done.flags, done.valid], [0, 3, [true, true]]);
    assert.equal(runOk('fw_printenv', ['-c', cfgPath, '-n', 'n']), 'three\n');
  });

  it('whatever prefix of a write lands, the env is the old or the new one, never a mix or none', async () => {
    for (const cut of [0, 1, 4, 5, 20, 60, 0x800, 0xfff]) {
      const { cfg, cfgPath } = await setup(`cut${cut}`, 'FILE 0x0 0x1000\nFILE 0x1000 0x1000\n', 0x2000);
      await writeUbootEnvFile(cfg, { ...DEFAULTS, n: 'zero' });
      await writeUbootEnvFile(cfg, { ...DEFAULTS, n: 'old' });
      await assert.rejects(updateUbootEnvFile(cfg, { n: 'new-value' }, { io: tornWrites(cut) }), /power cut/);
      const ours = (await readUbootEnvFile(cfg)).vars.get('n');
      assert.equal(runOk('fw_printenv', ['-c', cfgPath, '-n', 'n']), `${ours}\n`, `cut at ${cut}`);
      // the entries end well before 0x800, so only a prefix past them can complete the new copy
      assert.equal(ours, cut >= 0x800 ? 'new-value' : 'old', `cut at ${cut}`);
    }
  });

  it('boolean flags: the new copy is written active, then the old one marked obsolete', async () => {
    const { cfg, file } = await setup('bool', 'FILE 0x0 0x400\nFILE 0x400 0x400\n', 0x800);
    await writeUbootEnvFile(cfg, { n: 'one' }, { scheme: 'boolean' });
    assert.deepEqual(await writeUbootEnvFile(cfg, { n: 'two' }, { scheme: 'boolean' }), { copy: 1, flags: 1 });
    assert.deepEqual([await flagsAt(file, 0), await flagsAt(file, 0x400)], [0, 1]);
    assert.deepEqual(await writeUbootEnvFile(cfg, { n: 'three' }, { scheme: 'boolean' }), { copy: 0, flags: 1 });
    assert.deepEqual([await flagsAt(file, 0), await flagsAt(file, 0x400)], [1, 0]);
    const state = await readUbootEnvFile(cfg, { scheme: 'boolean' });
    assert.deepEqual([state.copy, state.vars.get('n'), state.valid], [0, 'three', [true, true]]);
  });

  it('a short second copy counts as invalid; a short plain env, a missing file and MTD devices are errors', async () => {
    const { cfg: plainCfg } = await setup('short', 'FILE 0x0 0x1000\n', 0x800);
    await rejectsCode(readUbootEnvFile(plainCfg), 'ERR_ENV_INVALID', /truncated: 2048 bytes, expected 4096/);
    const { cfg, file } = await setup('short2', 'FILE 0x0 0x400\nFILE 0x400 0x400\n', 0x600);
    await writeFile(file, Buffer.concat([serializeUbootEnv({ a: '1' }, { size: 0x400, redundant: true }), Buffer.alloc(0x200)]));
    assert.deepEqual((await readUbootEnvFile(cfg)).valid, [true, false]);
    await rejectsCode(readUbootEnvFile(parseFwEnvConfig(`${join(dir, 'missing.bin')} 0 400`)), 'ERR_IO', /missing\.bin/);
    await rejectsCode(writeUbootEnvFile(parseFwEnvConfig(`${join(dir, 'missing.bin')} 0 400`), { a: '1' }), 'ERR_IO');
    await rejectsCode(readUbootEnvFile(parseFwEnvConfig('/dev/mtd1 0 2000')), 'ERR_CONFIG_INVALID', /MTD and UBI/);
  });

  it('a write that does not fit fails before touching storage', async () => {
    const { cfg, file } = await setup('full', 'FILE 0x0 0x40\n', 0x40);
    const before = await readFile(file);
    await assert.rejects(writeUbootEnvFile(cfg, { k: 'v'.repeat(0x40) }), (e: unknown) => isCanopyError(e, 'ERR_ENV_TOO_LARGE'));
    assert.deepEqual(await readFile(file), before);
    assert.throws(() => parseUbootEnv(new Uint8Array(before), { size: 0x40 }));
  });
});
