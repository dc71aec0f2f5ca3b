import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isCanopyError, type ErrorCode } from '../../../agent/src/core/errors';
import {
  createBootloaderBackend, createGrubBackend, createNoneBackend, createUbootBackend,
} from '../../../agent/src/bootloader/backend';
import { readUbootEnvFile, writeUbootEnvFile, parseFwEnvConfig } from '../../../agent/src/bootloader/uboot-env-file';
import { hasTool, runOk, tempDir } from './tools';

async function rejectsCode(p: Promise<unknown>, code: ErrorCode): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isCanopyError(e, code), `expected ${code}, got ${String(e)}`);
    return true;
  });
}

describe('bootloader/backend: U-Boot', () => {
  let dir = '';
  let cleanup = async (): Promise<void> => {};
  const config = parseFwEnvConfig('env.bin 0x0 0x2000\nenv.bin 0x2000 0x2000\n');
  const BOARD = { bootcmd: 'run distro_bootcmd', bootdelay: '0', kernel_addr_r: '0x40400000' };
  beforeEach(async () => {
    ({ dir, cleanup } = await tempDir());
    await writeFile(join(dir, 'env.bin'), new Uint8Array(0x4000));
  });
  afterEach(() => cleanup());

  it('stages by read-modify-write: the board env survives, fw_printenv sees the trial', async () => {
    await writeUbootEnvFile(config, BOARD, { baseDir: dir });
    const backend = createUbootBackend({ fwEnvConfig: config, baseDir: dir });
    const state = await backend.stageTrial({ tries: 2 });
    assert.deepEqual(state, {
      name: 'uboot',
      env: { upgrade_available: '1', bootcount: '0', bootlimit: '2' },
      summary: { trial: true, fallback: false, healthFailed: false, triesLeft: 2 },
    });
    const stored = await readUbootEnvFile(config, { baseDir: dir });
    assert.deepEqual(Object.fromEntries(stored.vars), { ...BOARD, upgrade_available: '1', bootcount: '0', bootlimit: '2' });
    if (hasTool('fw_printenv')) {
      await writeFile(join(dir, 'fw_env.config'), 'env.bin 0x0 0x2000\nenv.bin 0x2000 0x2000\n');
      assert.equal(runOk('fw_printenv', ['-c', 'fw_env.config', '-n', 'upgrade_available'], dir), '1\n');
      assert.equal(runOk('fw_printenv', ['-c', 'fw_env.config', '-n', 'bootcmd'], dir), 'run distro_bootcmd\n');
    }
  });

  it('writes nothing when a step changes nothing', async () => {
    await writeUbootEnvFile(config, { ...BOARD, upgrade_available: '0', bootcount: '0' }, { baseDir: dir });
    const before = await readFile(join(dir, 'env.bin'));
    const backend = createUbootBackend({ fwEnvConfig: config, baseDir: dir });
    await backend.markGood();
    await backend.finishRollback();
    assert.deepEqual(await readFile(join(dir, 'env.bin')), before);
  });

  it('never writes a partial env into a blank one unless given the initial env', async () => {
    await rejectsCode(createUbootBackend({ fwEnvConfig: config, baseDir: dir }).stageTrial(), 'ERR_ENV_CRC');
    await rejectsCode(createUbootBackend({ fwEnvConfig: config, baseDir: dir }).readState(), 'ERR_ENV_CRC');
    const withDefaults = createUbootBackend({ fwEnvConfig: config, baseDir: dir, initialEnv: new Map(Object.entries(BOARD)) });
    assert.deepEqual((await withDefaults.readState()).env, {});
    await withDefaults.stageTrial();
    assert.equal((await readUbootEnvFile(config, { baseDir: dir })).vars.get('bootcmd'), BOARD.bootcmd);
  });

  it('passes the contract\'s refusals through and reports the fallback', async () => {
    await writeUbootEnvFile(config, { ...BOARD, canopy_fallback: '1', canopy_failed: '1', upgrade_available: '0' }, { baseDir: dir });
    const backend = createUbootBackend({ fwEnvConfig: join(dir, 'missing.config') });
    await rejectsCode(backend.readState(), 'ERR_IO');
    await writeFile(join(dir, 'fw_env.config'), 'env.bin 0x0 0x2000\nenv.bin 0x2000 0x2000\n');
    const fromFile = createUbootBackend({ fwEnvConfig: join(dir, 'fw_env.config'), baseDir: dir });
    assert.deepEqual((await fromFile.readState()).summary, { trial: false, fallback: true, healthFailed: true });
    await rejectsCode(fromFile.markGood(), 'ERR_BOOT_STATE');
    await rejectsCode(fromFile.stageTrial(), 'ERR_BOOT_STATE');
    assert.deepEqual((await fromFile.finishRollback()).env, { upgrade_available: '0', bootcount: '0' });
  });
});

describe('bootloader/backend: GRUB', () => {
  let dir = '';
  let cleanup = async (): Promise<void> => {};
  beforeEach(async () => {
    ({ dir, cleanup } = await tempDir());
  });
  afterEach(() => cleanup());

  it('writes greenboot\'s variables to both copies, keeping other variables', async () => {
    const primary = join(dir, 'grubenv');
    const backend = createGrubBackend({ primary, redundant: join(dir, 'grubenv.redund') });
    assert.deepEqual((await backend.readState()).env, {});
    await backend.stageTrial();
    if (hasTool('grub-editenv')) {
      runOk('grub-editenv', [primary, 'set', 'saved_entry=keep']);
      assert.equal(runOk('grub-editenv', [primary, 'list']), 'boot_counter=3\nboot_success=0\nsaved_entry=keep\n');
    }
    await backend.markBad();
    assert.deepEqual((await backend.readState()).env, { boot_counter: '0', boot_success: '0', canopy_failed: '1' });
    await rejectsCode(backend.markGood().then(async () => backend.markBad()), 'ERR_BOOT_STATE');
    if (hasTool('grub-editenv')) {
      assert.equal(runOk('grub-editenv', [join(dir, 'grubenv.redund'), 'list']), 'boot_success=1\nsaved_entry=keep\n');
    }
  });
});

describe('bootloader/backend: none and the factory', () => {
  it('none records nothing and refuses mark-bad', async () => {
    const none = createNoneBackend();
    assert.deepEqual((await none.stageTrial()).summary, { trial: false, fallback: false, healthFailed: false });
    await none.markGood();
    await none.finishRollback();
    await rejectsCode(none.markBad(), 'ERR_BOOT_STATE');
  });

  it('builds the backend by name and says when its paths are missing', () => {
    assert.equal(createBootloaderBackend('none', {}).name, 'none');
    assert.equal(createBootloaderBackend('grub', { grub: { primary: '/x/grubenv' } }).name, 'grub');
    assert.equal(createBootloaderBackend('uboot', { uboot: { fwEnvConfig: '/etc/fw_env.config' } }).name, 'uboot');
    assert.throws(() => createBootloaderBackend('uboot', { grub: { primary: '/x' } }), (e: unknown) => isCanopyError(e, 'ERR_CONFIG_INVALID'));
  });
});
