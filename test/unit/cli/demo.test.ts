import { strict as assert } from 'node:assert';
import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canopy, ensureBuilt, tempDir } from './cli-harness';

// The full fleet demo (`canopy demo`) runs in test/e2e/fleet.test.ts against Mosquitto.
describe('canopy demo', () => {
  before(() => ensureBuilt());

  it('--walkthrough runs every repository step against the built CLI and leaves nothing behind', () => {
    const tmp = tempDir('canopy-demo-host-');
    const before = readdirSync(tmpdir()).filter((n) => n.startsWith('canopy-demo-'));
    const run = canopy(['demo', '--walkthrough'], { env: { TMPDIR: tmp } });
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

  it('refuses a fleet it cannot run, before starting anything', () => {
    const tmp = tempDir('canopy-demo-host-');
    const few = canopy(['demo', '--devices=1'], { env: { TMPDIR: tmp } });
    assert.equal(few.status, 2);
    assert.match(few.stderr, /--devices needs an integer >= 2/);
    const noAgent = canopy(['demo'], { env: { TMPDIR: tmp, CANOPY_AGENT_BUNDLE: join(tmp, 'missing.cjs') } });
    assert.equal(noAgent.status, 1);
    assert.match(noAgent.stderr, /missing\.cjs is missing: build it first/);
    assert.deepEqual(readdirSync(tmp), []);
    assert.match(canopy(['demo', '--help']).stdout, /--walkthrough/);
  });
});
