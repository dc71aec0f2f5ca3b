/**
 * A CLI process whose command never settles (its event loop ran empty)
 * exits with status 1 and says why, instead of Node.js's 0; one whose
 * command finished keeps its status.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from './cli-harness';

function run(script: string): { status: number | null; stderr: string } {
  const mod = JSON.stringify(join(ROOT, 'agent/src/cli/entry.ts'));
  const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', `import(${mod}).then((m) => { ${script} });`], { cwd: ROOT, encoding: 'utf8' });
  return { status: r.status, stderr: r.stderr };
}

describe('cli: a command that stops before it finishes', () => {
  it('exits with status 1 and says so when the event loop runs empty first', () => {
    const r = run('m.failIfUnfinished(() => false, process.stderr); new Promise(() => {});');
    assert.equal(r.status, 1);
    assert.match(r.stderr, /the command stopped before it finished/);
  });

  it('keeps the status of a command that finished, and a failure it set', () => {
    const ok = run('let done = false; m.failIfUnfinished(() => done, process.stderr); setTimeout(() => { done = true; }, 10);');
    assert.equal(ok.status, 0);
    assert.equal(ok.stderr, '');
    const failed = run('m.failIfUnfinished(() => false, process.stderr); process.exitCode = 5;');
    assert.equal(failed.status, 5, 'a command that set a failure keeps it');
  });
});
