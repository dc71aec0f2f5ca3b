/**
 * `canopy static-delta` through the built bundle: generate (with bsdiff on
 * worker threads started from the bundle itself), list, show, apply-offline,
 * delete, reindex, and the errors scripts branch on.
 */
import { strict as assert } from 'node:assert';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { deltaDir } from '../../../agent/src/delta/index';
import { canopy, ok } from './cli-harness';
import { deltaWorld, haveXz, type DeltaWorld } from '../delta/delta-trees';

describe('cli/static-delta', function () {
  let w: DeltaWorld;
  let name: string;
  before(async function () {
    if (!haveXz()) {
      console.log('    (xz not installed: skipping; install the Debian package xz-utils)');
      this.skip();
    }
    w = await deltaWorld();
    name = `${w.a}-${w.b}`;
  });
  after(() => w?.cleanup());

  it('generate --to=REV starts from its parent, as ostree; bsdiff runs on worker threads', function () {
    const r = ok(canopy(['--repo', w.server.path, '--json', 'static-delta', 'generate', '--to=os/main', '--min-fallback-size=0']), 'generate').json();
    assert.equal(r.name, name);
    assert.equal(r.generated, true);
    assert.ok(r.counts.bsdiff >= 1);
    assert.ok(r.bsdiffJobs.workers >= 1, 'bsdiff ran on worker threads started from the bundle');
    assert.equal(r.bsdiffJobs.inline, 0);
    assert.ok(existsSync(join(w.server.path, deltaDir(w.a, w.b), 'superblock')));
    const again = ok(canopy(['--repo', w.server.path, '--json', 'static-delta', 'generate', `--from=${w.a}`, `--to=${w.b}`, '-n'])).json();
    assert.equal(again.generated, false, '--if-not-exists leaves an existing delta alone');
  });

  it('list and show (text as ostree prints it, and --json)', function () {
    assert.equal(ok(canopy(['--repo', w.server.path, 'static-delta', 'list'])).stdout.trim(), name);
    const text = ok(canopy(['--repo', w.server.path, 'static-delta', 'show', name])).stdout;
    assert.match(text, new RegExp(`^Delta: ${name}\nSigned: no\nFrom: ${w.a}\nTo: ${w.b}\nEndianness: little\n`));
    assert.match(text, /PartPayloadOps0: openspliceclose=\d+ open=\d+ write=\d+ setread=\d+ unsetread=\d+ close=\d+ bspatch=[1-9]/);
    const info = ok(canopy(['--repo', w.server.path, '--json', 'static-delta', 'show', name])).json();
    assert.equal(info.parts.length, 3);
    assert.equal(info.fallbacks.length, 0);
    assert.ok(info.parts.every((p: { ops?: unknown; error?: string }) => p.ops && !p.error));
  });

  it('apply-offline into a bare-user-only repository holding A, then delete and reindex', async function () {
    const client = await w.client('bare-user-only');
    const dir = join(w.server.path, deltaDir(w.a, w.b));
    const r = ok(canopy(['--repo', client.path, '--json', 'static-delta', 'apply-offline', dir, `--expect-commit=${w.b}`]), 'apply').json();
    assert.equal(r.complete, true);
    assert.ok(r.objectsWritten > 5);
    ok(canopy(['--repo', client.path, 'fsck']), 'fsck');
    ok(canopy(['--repo', w.server.path, 'static-delta', 'reindex']));
    ok(canopy(['--repo', w.server.path, 'static-delta', 'delete', name]));
    assert.equal(ok(canopy(['--repo', w.server.path, 'static-delta', 'list'])).stdout.trim(), '(No static deltas)');
  });

  it('errors: usage (2), unknown delta (3), archive target, a delta for another commit (4)', async function () {
    assert.equal(canopy(['--repo', w.server.path, 'static-delta', 'generate']).status, 2);
    assert.equal(canopy(['--repo', w.server.path, 'static-delta', 'frobnicate']).status, 2);
    assert.equal(canopy(['--repo', w.server.path, 'static-delta', 'show', w.b]).status, 3);
    const gen = ok(canopy(['--repo', w.server.path, '--json', 'static-delta', 'generate', `--from=${w.a}`, `--to=${w.b}`])).json();
    const archive = canopy(['--repo', w.server.path, '--json', 'static-delta', 'apply-offline', gen.dir]);
    assert.equal(archive.json().error.code, 'ERR_REPO_MODE');
    const client = await w.client('bare-user-only');
    const wrong = canopy(['--repo', client.path, '--json', 'static-delta', 'apply-offline', gen.dir, `--expect-commit=${w.a}`]);
    assert.equal(wrong.status, 4);
    assert.equal(wrong.json().error.code, 'ERR_DELTA_INVALID');
  });
});
