/**
 * The boot contract on real GRUB: every vector of bootloader/contract.json that applies
 * to GRUB runs grub/canopy.cfg in grub-emu, boot after boot, against the grubenv copies
 * and menu entries the agent's writers produce.
 */
import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseContractVectors, vectorApplies } from '../../agent/src/bootloader/contract-vectors';
import { tempDir } from '../unit/bootloader/tools';
import { GrubEmuMachine, grubEmuMissing } from './helpers/grub-emu';
import { runVector } from './helpers/vector-runner';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const vectors = parseContractVectors(JSON.parse(readFileSync(join(ROOT, 'bootloader', 'contract.json'), 'utf8')).vectors);
const snippet = readFileSync(join(ROOT, 'grub', 'canopy.cfg'), 'utf8');

describe('integration: boot contract on real GRUB (grub-emu)', function () {
  let dir = '';
  let cleanup = async (): Promise<void> => {};
  before(async function () {
    const missing = grubEmuMissing();
    if (missing) {
      console.log(`      skipped: ${missing} not installed`);
      this.skip();
    }
    ({ dir, cleanup } = await tempDir());
  });
  after(() => cleanup());

  for (const vector of vectors.filter((v) => vectorApplies(v, 'grub'))) {
    it(vector.name, async () => {
      const work = join(dir, vector.name);
      await mkdir(work);
      await runVector(vector, new GrubEmuMachine(work, snippet));
    });
  }
});
