import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { agentMain } from '../../../../agent/src/cli/agent-main';
import type { CliIo } from '../../../../agent/src/cli/output';
import { tempRoot } from '../../health/fixtures';

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

describe('cli/admin/mark-good', () => {
  let root = '';
  let cleanup = async (): Promise<void> => {};
  beforeEach(async () => {
    ({ root, cleanup } = await tempRoot());
    await mkdir(join(root, 'sysroot'));
  });
  afterEach(() => cleanup());

  it('mark-good refuses when the system did not boot from the sysroot', async () => {
    const r = await runAgent(['admin', 'mark-good', '--json', '--sysroot', join(root, 'sysroot')], root);
    assert.notEqual(r.status, 0);
    assert.equal(JSON.parse(r.stdout).error.code, 'ERR_NOT_BOOTED');
  });
});
