/**
 * The boot contract on real U-Boot: every vector of bootloader/contract.json that applies
 * to U-Boot runs uboot/boot.cmd (compiled with mkimage) in U-Boot under QEMU, boot after
 * boot, against the env and uEnv.txt the agent's writers produce. Most vectors keep the
 * state in a redundant pair of state files; one runs with a single file, and the
 * "cannot save" vector uses U-Boot's own env on a read-only flash.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseContractVectors, vectorApplies, type ContractVector } from '../../agent/src/bootloader/contract-vectors';
import { serializeUbootEnv } from '../../agent/src/bootloader/uboot-env';
import { readUbootEnvFile } from '../../agent/src/bootloader/uboot-env-file';
import { hasTool, runOk, tempDir } from '../unit/bootloader/tools';
import { captureDefaultEnv, compileBootScript, ubootQemuMissing, UbootQemuMachine, type UbootStateMode } from './helpers/uboot-qemu';
import { runVector } from './helpers/vector-runner';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const vectors = parseContractVectors(JSON.parse(readFileSync(join(ROOT, 'bootloader', 'contract.json'), 'utf8')).vectors);

/** Where each vector keeps the state; the rest use a redundant pair of files. */
function modesOf(vector: ContractVector): UbootStateMode[] {
  if (vector.steps.some((s) => s.do === 'boot' && s.saveFails)) return ['saveenv'];
  if (vector.name === 'confirmed-update-stays') return ['redundant-files', 'single-file'];
  return ['redundant-files'];
}

describe('integration: boot contract on real U-Boot (qemu_arm64 under QEMU)', function () {
  this.timeout(180_000);
  let dir = '';
  let cleanup = async (): Promise<void> => {};
  let defaults = new Map<string, string>();
  let bootScr = new Uint8Array();

  before(async function () {
    const missing = ubootQemuMissing();
    if (missing) {
      console.log(`      skipped: ${missing} not installed`);
      this.skip();
    }
    ({ dir, cleanup } = await tempDir());
    const build = join(dir, 'build');
    await mkdir(build);
    await copyFile(join(ROOT, 'uboot', 'boot.cmd'), join(build, 'boot.cmd'));
    compileBootScript('boot.cmd', 'boot.scr', build);
    bootScr = new Uint8Array(await readFile(join(build, 'boot.scr')));
    defaults = await captureDefaultEnv(build);
  });
  after(() => cleanup());

  for (const vector of vectors.filter((v) => vectorApplies(v, 'uboot'))) {
    for (const mode of modesOf(vector)) {
      it(`${vector.name} [${mode}]`, async () => {
        const work = join(dir, `${vector.name}-${mode}`);
        await mkdir(work);
        await runVector(vector, new UbootQemuMachine(work, defaults, bootScr, mode));
      });
    }
  }

  it('picks the copy with flags 0 over 255 (wrap-around), and writes what fw_printenv reads back', async () => {
    const vector: ContractVector = { name: 'wrap', entries: ['B', 'A'], env: { uboot: {} }, steps: [], final: { entries: ['B', 'A'] } };
    const work = join(dir, 'flag-wrap');
    await mkdir(work);
    const machine = new UbootQemuMachine(work, defaults, bootScr, 'redundant-files');
    await machine.setup(vector);
    const [copy0, copy1] = machine.stateConfig.devices.map((d) => join(machine.stateBase, d.path));
    const layout = { size: machine.stateConfig.size, redundant: true };
    // copy 0 is older (255) and says "fallback"; copy 1 wrapped to 0 and holds a fresh trial
    await writeFile(copy0, serializeUbootEnv({ canopy_fallback: '1' }, { ...layout, flags: 255 }));
    await writeFile(copy1, serializeUbootEnv({ upgrade_available: '1', bootcount: '0', bootlimit: '3' }, { ...layout, flags: 0 }));
    const record = await machine.boot([]);
    assert.equal(record.deployment, 'B', record.log);
    const state = await readUbootEnvFile(machine.stateConfig, { baseDir: machine.stateBase });
    assert.deepEqual([state.copy, state.flags, state.valid], [0, 1, [true, true]], 'the script wrote copy 0 with flags 1');
    assert.deepEqual(Object.fromEntries(state.vars), { bootcount: '1', bootlimit: '3', upgrade_available: '1' });
    if (hasTool('fw_printenv')) {
      await writeFile(join(machine.stateBase, 'fw_env.config'), 'uboot.env 0x0 0x4000\nuboot-redund.env 0x0 0x4000\n');
      assert.equal(runOk('fw_printenv', ['-c', 'fw_env.config'], machine.stateBase), 'bootcount=1\nbootlimit=3\nupgrade_available=1\n');
    }
  });
});
