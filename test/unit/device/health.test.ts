/**
 * The health checks device/ ships: layered and parsed as the agent sees them, and run
 * against a fake systemctl on PATH (the real one would ask this machine's systemd).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { chmod, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { listHealthDir } from '../../../agent/src/health/check-dirs';
import { readCheckSettings } from '../../../agent/src/health/check-settings';
import { tempRoot } from '../health/fixtures';

const DEVICE = resolve(dirname(fileURLToPath(import.meta.url)), '../../../device');
const REQUIRED = join(DEVICE, 'health/required.d');

const FAKE_SYSTEMCTL = `#!/bin/sh
case "$1" in
  is-system-running) echo "$FAKE_SYSTEM"; [ "$FAKE_SYSTEM" = running ] ;;
  show) echo "$FAKE_LOAD" ;;
  is-active) echo "$FAKE_ACTIVE"; [ "$FAKE_ACTIVE" = active ] ;;
  list-units) echo "app.service loaded failed failed App" ;;
  *) exit 0 ;;
esac
`;

describe('device/health', () => {
  let bin = '';
  let cleanup = async (): Promise<void> => {};
  before(async () => {
    const t = await tempRoot();
    cleanup = t.cleanup;
    bin = t.root;
    await writeFile(join(bin, 'systemctl'), FAKE_SYSTEMCTL);
    await chmod(join(bin, 'systemctl'), 0o755);
  });
  after(() => cleanup());

  function runCheck(name: string, env: Record<string, string>): { status: number | null; out: string } {
    const r = spawnSync(join(REQUIRED, name), [], { env: { PATH: `${bin}:/usr/bin:/bin`, ...env }, encoding: 'utf8', timeout: 10_000 });
    return { status: r.status, out: r.stdout + r.stderr };
  }

  it('ships executable required checks whose settings parse', async () => {
    const l = await listHealthDir('required', { root: DEVICE, layers: ['/health'] });
    assert.deepEqual(l.checks.map((c) => c.name), ['10-systemd-running', '20-canopy-agent']);
    assert.deepEqual(l.notes, []);
    assert.deepEqual(await readCheckSettings(l.settings.get('10-systemd-running')?.path ?? ''), { timeoutMs: 300_000 });
  });

  it('10-systemd-running passes on running, fails on degraded and maintenance with the failed units', () => {
    assert.equal(runCheck('10-systemd-running', { FAKE_SYSTEM: 'running' }).status, 0);
    const degraded = runCheck('10-systemd-running', { FAKE_SYSTEM: 'degraded' });
    assert.equal(degraded.status, 1);
    assert.match(degraded.out, /system state: degraded\napp.service loaded failed/);
    assert.equal(runCheck('10-systemd-running', { FAKE_SYSTEM: 'maintenance' }).status, 1);
  });

  it('20-canopy-agent needs the agent active, unless it is not installed', () => {
    assert.equal(runCheck('20-canopy-agent', { FAKE_LOAD: 'loaded', FAKE_ACTIVE: 'active' }).status, 0);
    assert.equal(runCheck('20-canopy-agent', { FAKE_LOAD: 'not-found', FAKE_ACTIVE: 'inactive' }).status, 0);
    const failed = runCheck('20-canopy-agent', { FAKE_LOAD: 'loaded', FAKE_ACTIVE: 'failed' });
    assert.equal(failed.status, 1);
    assert.match(failed.out, /canopy-agent.service is failed/);
  });

  it('the unit runs admin health once per boot without holding up the boot', () => {
    const unit = readFileSync(join(DEVICE, 'systemd/canopy-health.service'), 'utf8');
    assert.match(unit, /^ExecStart=\/usr\/bin\/canopy-agent admin health$/m);
    assert.match(unit, /^Type=exec$/m);
    assert.match(unit, /^After=multi-user.target$/m);
    assert.match(unit, /^WantedBy=multi-user.target$/m);
  });
});
