import { strict as assert } from 'node:assert';
import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { canopy, ensureBuilt, tempDir } from './cli-harness';

describe('canopy demo (the README walkthrough)', () => {
  before(() => ensureBuilt());

  it('runs every step against the built CLI and leaves nothing behind', () => {
    const tmp = tempDir('canopy-demo-host-');
    const before = readdirSync(tmpdir()).filter((n) => n.startsWith('canopy-demo-'));
    const run = canopy(['demo'], { env: { TMPDIR: tmp } });
    assert.equal(run.status, 0, run.stderr);
    for (const step of ['init --mode=archive', "commit -b demo/os -s 'Demo OS 1.0'", 'log demo/os', 'summary --view', 'checkout demo/os checkout', 'fsck']) {
      assert.ok(run.stdout.includes(`$ canopy --repo=repo ${step}`), `missing step: ${step}`);
    }
    assert.match(run.stdout, /VERSION_ID=1\.0/);
    assert.match(run.stdout, /Version: 1\.1/);
    assert.match(run.stdout, /completed successfully - no errors found/);
    assert.deepEqual(readdirSync(tmp), [], 'the demo removed its temporary directory');
    assert.deepEqual(readdirSync(tmpdir()).filter((n) => n.startsWith('canopy-demo-')), before);
  });
});
