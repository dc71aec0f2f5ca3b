import { strict as assert } from 'node:assert';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

async function bundledInputs(entry: string): Promise<string[]> {
  const r = await build({ entryPoints: [join(root, entry)], bundle: true, platform: 'node', format: 'cjs', write: false, metafile: true, logLevel: 'silent' });
  return Object.keys(r.metafile.inputs);
}

describe('delta/index (device-safe surface)', function () {
  it('does not pull in the generator, xz compression or process spawning', async function () {
    const inputs = await bundledInputs('agent/src/delta/index.ts');
    assert.ok(inputs.some((p) => p.endsWith('delta/xz.ts')), 'sanity: the decoder is in');
    for (const banned of ['delta/bsdiff.ts', 'delta/suffix-array.ts', 'delta/xz-compress.ts', 'delta/rollsum.ts', 'delta/generate.ts']) {
      assert.ok(!inputs.some((p) => p.endsWith(banned)), `${banned} must stay out of the device surface`);
    }
  });

  it('the operator surface has them', async function () {
    const inputs = await bundledInputs('agent/src/delta/generate.ts');
    for (const wanted of ['delta/bsdiff.ts', 'delta/xz-compress.ts', 'delta/rollsum.ts']) assert.ok(inputs.some((p) => p.endsWith(wanted)), wanted);
  });
});
