import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createNoneBackend } from '../../../agent/src/bootloader/index';
import { isCanopyError } from '../../../agent/src/core/errors';
import { applyVerdict, markBootedGood, runHealthAndConfirm, type ConfirmPorts } from '../../../agent/src/health/confirm';
import { healthReport } from '../../../agent/src/health/verdict';
import { hasTool, runOk } from '../bootloader/tools';
import { COMMIT_A, COMMIT_B, USR, script, tempRoot } from './fixtures';
import { makeDevice, stage, type Device } from './loaders';

function oracle(device: Device): string | null {
  if (device.kind === 'uboot') {
    if (!hasTool('fw_printenv')) return null;
    return runOk('fw_printenv', ['-c', device.envFile]).split('\n').filter((l) => /^(upgrade_available|bootcount|bootlimit|canopy_)/.test(l)).join(' ');
  }
  if (!hasTool('grub-editenv')) return null;
  return runOk('grub-editenv', [device.envFile, 'list']).trim().split('\n').join(' ');
}

for (const kind of ['uboot', 'grub'] as const) {
  describe(`health/confirm with the real ${kind === 'uboot' ? 'U-Boot' : 'GRUB'} backend`, () => {
    let root = '';
    let cleanup = async (): Promise<void> => {};
    let device: Device;
    let reboots: string[];
    let ports: ConfirmPorts;
    let stateDir = '';
    beforeEach(async () => {
      ({ root, cleanup } = await tempRoot());
      await mkdir(join(root, 'boot'));
      device = await makeDevice(kind, join(root, 'boot'), [COMMIT_A]);
      reboots = [];
      stateDir = join(root, 'var/lib/canopy/health');
      ports = { backend: device.backend, stateDir, reboot: async (why) => { reboots.push(why); }, now: () => Date.parse('2025-06-01T12:00:00Z') };
      await script(root, USR, 'required.d', '10-base', 'exit 0');
    });
    afterEach(() => cleanup());

    it('trial + passing checks: mark-good leaves no trial, green.d runs after the write, no reboot', async () => {
      const hookLog = join(root, 'hook.log');
      await script(root, USR, 'green.d', '10-g', `echo "$CANOPY_HEALTH_ACTION $CANOPY_TRIAL" >> '${hookLog}'`);
      await script(root, USR, 'red.d', '10-r', `echo red >> '${hookLog}'`);
      await stage(device, COMMIT_B, COMMIT_A);
      assert.equal(await device.boot(), 0);
      assert.equal((await device.backend.readState()).summary.trial, true);
      const r = await runHealthAndConfirm({ root, ports, boot: { bootedEntry: 0, commit: COMMIT_B } });
      assert.equal(r.verdict.healthy, true);
      assert.equal(r.outcome?.action, 'marked-good');
      assert.deepEqual(reboots, []);
      const state = await device.backend.readState();
      assert.deepEqual(state.summary, { trial: false, fallback: false, healthFailed: false });
      assert.equal(await readFile(hookLog, 'utf8'), 'marked-good 1\n');
      const report = JSON.parse(await readFile(join(stateDir, 'last-report.json'), 'utf8'));
      assert.equal(report.healthy, true);
      assert.equal(report.deployment.commit, COMMIT_B);
      assert.deepEqual(report.hooks.map((h: { name: string }) => h.name), ['10-g']);
      assert.equal(existsSync(join(stateDir, 'last-failure.json')), false);
      const seen = oracle(device);
      if (seen !== null) assert.equal(seen, kind === 'uboot' ? 'bootcount=0 bootlimit=3 upgrade_available=0' : 'saved_entry=keep boot_success=1');
      assert.equal(await device.boot(), 0);
    });

    it('failing required check: failure recorded, mark-bad, red.d, then one reboot; the next boot falls back', async () => {
      const hookLog = join(root, 'hook.log');
      await script(root, USR, 'required.d', '20-app', 'echo "app.service: exit 203/EXEC" >&2; exit 1');
      await script(root, USR, 'red.d', '10-r', `echo "$CANOPY_HEALTH $CANOPY_HEALTH_FAILED $CANOPY_HEALTH_ACTION" >> '${hookLog}'`);
      let hookDoneAtReboot = false;
      ports.reboot = async (why) => {
        hookDoneAtReboot = existsSync(hookLog);
        reboots.push(why);
      };
      await stage(device, COMMIT_B, COMMIT_A, 2);
      assert.equal(await device.boot(), 0);
      const r = await runHealthAndConfirm({ root, ports, boot: { bootedEntry: 0, commit: COMMIT_B } });
      assert.equal(r.verdict.healthy, false);
      assert.deepEqual(r.outcome && { a: r.outcome.action, why: r.outcome.reason, reboot: r.outcome.rebootRequested },
        { a: 'marked-bad', why: 'failed-trial', reboot: true });
      assert.deepEqual(reboots, ['health check failed: 20-app']);
      assert.equal(hookDoneAtReboot, true);
      assert.equal(await readFile(hookLog, 'utf8'), 'red 20-app marked-bad\n');
      const failure = JSON.parse(await readFile(join(stateDir, 'last-failure.json'), 'utf8'));
      assert.equal(failure.commit, COMMIT_B);
      assert.equal(failure.time, '2025-06-01T12:00:00.000Z');
      assert.equal(failure.report.failed[0].check, '20-app');
      assert.match(failure.report.failed[0].outputTail, /exit 203\/EXEC/);
      assert.equal((await device.backend.readState()).summary.healthFailed, true);
      const seen = oracle(device);
      if (seen !== null) assert.match(seen, /canopy_failed=1/);
      assert.equal(await device.boot(), 1, 'the boot after mark-bad falls back at once');
    });

    it('does not confirm or fail anything while a fallback is recorded or the previous entry runs', async () => {
      await stage(device, COMMIT_B, COMMIT_A, 1);
      assert.equal(await device.boot(), 0);
      assert.equal(await device.boot(), 1);
      const report = healthReport({ startedAt: 'x', durationMs: 0, results: [], notes: [] }, { healthy: false, failed: [], warnings: [] });
      const o = await applyVerdict(ports, report, { bootedEntry: 1, commit: COMMIT_A });
      assert.equal(o.action, 'none');
      assert.equal(o.reason, 'fallback-recorded');
      assert.deepEqual(reboots, []);
      await assert.rejects(markBootedGood(ports, { bootedEntry: 0 }), (e: unknown) => isCanopyError(e, 'ERR_BOOT_STATE'));
    });

    it('mark-good by hand confirms the booted default entry, and refuses the previous one', async () => {
      await stage(device, COMMIT_B, COMMIT_A);
      assert.equal(await device.boot(), 0);
      await assert.rejects(markBootedGood(ports, { bootedEntry: 1 }), (e: unknown) => isCanopyError(e, 'ERR_BOOT_STATE'));
      assert.equal((await device.backend.readState()).summary.trial, true);
      assert.equal((await markBootedGood(ports, { bootedEntry: 0 })).summary.trial, false);
    });

    it('without a trial: no boot-loader write and no reboot, even when unhealthy; --no-confirm writes nothing', async () => {
      await script(root, USR, 'required.d', '20-app', 'exit 1');
      const envBefore = await readFile(device.envFile);
      const dry = await runHealthAndConfirm({ root, ports, boot: { bootedEntry: 0 }, confirm: false });
      assert.equal(dry.outcome, null);
      assert.equal(existsSync(stateDir), false);
      const r = await runHealthAndConfirm({ root, ports, boot: { bootedEntry: 0 } });
      assert.equal(r.outcome?.action, 'none');
      assert.equal(r.outcome?.reason, 'no-trial');
      assert.deepEqual(reboots, []);
      assert.deepEqual(await readFile(device.envFile), envBefore);
      assert.equal(existsSync(join(stateDir, 'last-failure.json')), false);
      assert.equal(JSON.parse(await readFile(join(stateDir, 'last-report.json'), 'utf8')).healthy, false);
    });
  });
}

describe('health/confirm without boot-loader integration', () => {
  it('never marks or reboots', async () => {
    const { root, cleanup } = await tempRoot();
    try {
      await script(root, USR, 'required.d', '10-bad', 'exit 1');
      const reboots: string[] = [];
      const r = await runHealthAndConfirm({
        root, boot: { bootedEntry: 0 }, ports: { backend: createNoneBackend(), stateDir: join(root, 'state'), reboot: async (w) => { reboots.push(w); } },
      });
      assert.equal(r.verdict.healthy, false);
      assert.equal(r.outcome?.action, 'none');
      assert.deepEqual(reboots, []);
    } finally {
      await cleanup();
    }
  });
});
