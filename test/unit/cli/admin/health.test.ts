import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { agentMain } from '../../../../agent/src/cli/agent-main';
import type { CliIo } from '../../../../agent/src/cli/output';
import { USR, script, tempRoot } from '../../health/fixtures';

async function runAgent(args: string[], cwd: string): Promise<{ status: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    stdout: { write: (c) => { stdout += String(c); return true; } },
    stderr: { write: (c) => { stderr += String(c); return true; } },
    env: {}, cwd, now: () => Date.now(),
  };
  const status = await agentMain(['node', 'canopy-agent', ...args], io);
  return { status, stdout, stderr };
}

describe('cli/admin/health', () => {
  let root = '';
  let cleanup = async (): Promise<void> => {};
  beforeEach(async () => {
    ({ root, cleanup } = await tempRoot());
    await mkdir(join(root, 'sysroot'));
  });
  afterEach(() => cleanup());

  it('is listed in canopy-agent admin --help', async () => {
    const r = await runAgent(['admin', '--help'], root);
    assert.match(r.stdout, /^ {2}health +Run the health checks/m);
    assert.match(r.stdout, /^ {2}mark-good +Confirm the booted deployment by hand/m);
  });

  it('--no-confirm --json: prints the verdict, exit 0 when healthy, writes nothing', async () => {
    await script(root, USR, 'required.d', '10-ok', 'echo fine');
    await script(root, USR, 'wanted.d', '10-meh', 'exit 2');
    const state = join(root, 'state');
    const r = await runAgent(['admin', 'health', '--no-confirm', '--json', `--root=${root}`, '--sysroot', join(root, 'sysroot'), `--state-dir=${state}`], root);
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.healthy, true);
    assert.equal(out.outcome, null);
    assert.equal(out.rollback, null);
    assert.deepEqual(out.report.checks.map((c: { name: string; status: string }) => [c.name, c.status]), [['10-ok', 'passed'], ['10-meh', 'failed']]);
    assert.equal(out.verdict.warnings[0].check, '10-meh');
    assert.equal(existsSync(state), false);
  });

  it('text: failing required check shows its output, exit status 1; not booted: nothing confirmed', async () => {
    await script(root, USR, 'required.d', '10-ok', 'exit 0');
    await script(root, USR, 'required.d', '20-app', 'echo "app.service: failed"; exit 1');
    const r = await runAgent(['admin', 'health', `--root=${root}`, '--sysroot', join(root, 'sysroot'), `--state-dir=${join(root, 'state')}`], root);
    assert.equal(r.status, 1);
    assert.match(r.stdout, /^PASS {2}required\.d\/10-ok/m);
    assert.match(r.stdout, /^FAIL {2}required\.d\/20-app exited with status 1/m);
    assert.match(r.stdout, /^ {6}\| app\.service: failed$/m);
    assert.match(r.stdout, /^unhealthy: 20-app$/m);
    assert.match(r.stderr, /not booted from a deployment/);
    assert.equal(existsSync(join(root, 'state', 'last-failure.json')), false);
  });
});
