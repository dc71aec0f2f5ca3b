import assert from 'node:assert/strict';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isCanopyError } from '../../../agent/src/core/errors';
import { serializeGrubEnv } from '../../../agent/src/bootloader/grubenv';
import {
  nodeGrubEnvFileIo, readGrubEnvFiles, updateGrubEnvFiles, writeGrubEnvFiles, type GrubEnvFileIo,
} from '../../../agent/src/bootloader/grubenv-file';
import { hasTool, runOk, tempDir } from './tools';

describe('bootloader/grubenv-file: two grubenv copies, replaced atomically', () => {
  let dir = '';
  let cleanup = async (): Promise<void> => {};
  beforeEach(async () => {
    ({ dir, cleanup } = await tempDir());
  });
  afterEach(() => cleanup());
  const paths = (): { primary: string; redundant: string } => ({ primary: join(dir, 'grubenv'), redundant: join(dir, 'grubenv.redund') });

  it('writes both copies byte-identical to what grub-editenv makes, and leaves no temporary file', async () => {
    await writeGrubEnvFiles(paths(), new Map([['boot_counter', '3'], ['boot_success', '0']]));
    const a = await readFile(paths().primary);
    assert.deepEqual(a, await readFile(paths().redundant));
    assert.deepEqual(await readdir(dir), ['grubenv', 'grubenv.redund']);
    if (hasTool('grub-editenv')) {
      const oracle = join(dir, 'oracle');
      runOk('grub-editenv', [oracle, 'create']);
      runOk('grub-editenv', [oracle, 'set', 'boot_counter=3', 'boot_success=0']);
      assert.deepEqual(a, await readFile(oracle));
    }
  });

  it('reads the primary, else the redundant copy, else nothing', async () => {
    await writeGrubEnvFiles(paths(), { boot_counter: '2' });
    assert.deepEqual(await readGrubEnvFiles(paths()), { vars: new Map([['boot_counter', '2']]), copy: 0, valid: [true, true], size: 1024 });
    const torn = await readFile(paths().primary);
    torn.fill(0, 0, 512);
    await writeFile(paths().primary, torn);
    const fromRedundant = await readGrubEnvFiles(paths());
    assert.deepEqual([fromRedundant.copy, fromRedundant.valid, fromRedundant.vars.get('boot_counter')], [1, [false, true], '2']);
    await writeFile(paths().redundant, 'garbage');
    assert.deepEqual(await readGrubEnvFiles(paths()), { vars: new Map(), copy: null, valid: [false, false], size: 1024 });
    assert.deepEqual((await readGrubEnvFiles({ primary: join(dir, 'missing') })).valid, [false, false]);
  });

  it('updates in place like grub-editenv set/unset, keeps the block size, and repairs a broken copy', async () => {
    await writeFile(paths().primary, serializeGrubEnv(new Map([['saved_entry', 'x'], ['boot_counter', '3']]), { size: 2048 }));
    const state = await updateGrubEnvFiles(paths(), { boot_counter: null, boot_success: '1', saved_entry: 'y' });
    assert.deepEqual([...state.vars], [['saved_entry', 'y'], ['boot_success', '1']]);
    assert.deepEqual(state.valid, [true, true]);
    assert.equal((await readFile(paths().redundant)).length, 2048);
  });

  it('a power cut before the rename leaves the old file whole', async () => {
    await writeGrubEnvFiles(paths(), { boot_counter: '3' });
    const cut: GrubEnvFileIo = {
      read: nodeGrubEnvFileIo.read,
      replace: async () => { throw new Error('power cut'); },
    };
    await assert.rejects(updateGrubEnvFiles(paths(), { boot_counter: '0' }, cut), /power cut/);
    assert.equal((await readGrubEnvFiles(paths())).vars.get('boot_counter'), '3');
  });

  it('refuses an oversized file and reports I/O errors with the path', async () => {
    await writeFile(paths().primary, new Uint8Array(70_000));
    await assert.rejects(readGrubEnvFiles(paths()), (e: unknown) => isCanopyError(e, 'ERR_ENV_INVALID') && /larger than/.test((e as Error).message));
    await assert.rejects(writeGrubEnvFiles({ primary: join(dir, 'no', 'such', 'grubenv') }, {}),
      (e: unknown) => isCanopyError(e, 'ERR_IO') && /no\/such\/grubenv/.test((e as Error).message));
    await assert.rejects(writeGrubEnvFiles(paths(), { big: 'x'.repeat(2000) }), (e: unknown) => isCanopyError(e, 'ERR_ENV_TOO_LARGE'));
  });
});
