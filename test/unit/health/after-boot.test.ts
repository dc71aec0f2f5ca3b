import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isCanopyError } from '../../../agent/src/core/errors';
import { checkAfterBoot, readRollbackRecord } from '../../../agent/src/health/after-boot';
import { runHealthAndConfirm, type ConfirmPorts } from '../../../agent/src/health/confirm';
import { isRejected, readRejectedCommits } from '../../../agent/src/health/rejected-commits';
import { writeStateFile } from '../../../agent/src/health/state-files';
import { COMMIT_A, COMMIT_B, USR, script, tempRoot } from './fixtures';
import { makeDevice, stage, type Device } from './loaders';

for (const kind of ['uboot', 'grub'] as const) {
  describe(`health/after-boot with the real ${kind === 'uboot' ? 'U-Boot' : 'GRUB'} backend`, () => {
    let root = '';
    let cleanup = async (): Promise<void> => {};
    let device: Device;
    let ports: ConfirmPorts;
    let stateDir = '';
    let removals: Array<{ fallbackStillRecorded: boolean }>;
    const removeFailedEntries = async (): Promise<void> => {
      removals.push({ fallbackStillRecorded: (await device.backend.readState()).summary.fallback });
      device.entries = device.entries.slice(-1);
    };
    beforeEach(async () => {
      ({ root, cleanup } = await tempRoot());
      await mkdir(join(root, 'boot'));
      device = await makeDevice(kind, join(root, 'boot'), [COMMIT_A]);
      stateDir = join(root, 'state');
      removals = [];
      let t = Date.parse('2025-06-01T12:00:00Z');
      ports = { backend: device.backend, stateDir, reboot: async () => {}, now: () => (t += 1000) };
      await script(root, USR, 'required.d', '10-base', 'exit 0');
    });
    afterEach(() => cleanup());

    it('after a failed health check: records the check and its output, rejects the commit, finishes in order, once', async () => {
      await script(root, USR, 'required.d', '20-app', 'echo "app.service: exit 203/EXEC"; exit 1');
      await stage(device, COMMIT_B, COMMIT_A);
      assert.equal(await device.boot(), 0);
      assert.deepEqual((await checkAfterBoot(ports, { bootedEntry: 0, bootId: 'boot-1', failedCommit: null }, removeFailedEntries)), { fellBack: false });
      await runHealthAndConfirm({ root, ports, boot: { bootedEntry: 0, commit: COMMIT_B } });
      assert.equal(await device.boot(), 1);

      const r = await checkAfterBoot(ports, { bootedEntry: 1, bootId: 'boot-2', failedCommit: COMMIT_B, bootedCommit: COMMIT_A }, removeFailedEntries);
      assert.ok(r.fellBack);
      assert.equal(r.repeated, false);
      assert.equal(r.record.reason, 'health-check');
      assert.equal(r.record.commit, COMMIT_B);
      assert.equal(r.record.bootedCommit, COMMIT_A);
      assert.equal(r.record.bootloader, kind);
      assert.deepEqual(r.record.failed.map((f) => f.check), ['20-app']);
      assert.match(r.record.failed[0].outputTail, /exit 203\/EXEC/);
      assert.equal(r.record.failureTime, '2025-06-01T12:00:01.000Z');
      assert.ok(r.record.finishedAt !== null);
      assert.deepEqual(removals, [{ fallbackStillRecorded: true }], 'entries are rewritten before the markers are cleared');
      assert.deepEqual((await device.backend.readState()).summary, { trial: false, fallback: false, healthFailed: false });
      assert.equal(await isRejected(stateDir, COMMIT_B), true);
      assert.equal(await isRejected(stateDir, COMMIT_A), false);
      assert.deepEqual((await readRejectedCommits(stateDir)).map((e) => [e.commit, e.reason, e.check]), [[COMMIT_B, 'health-check', '20-app']]);
      assert.equal(existsSync(join(stateDir, 'last-failure.json')), false);
      assert.deepEqual(await readRollbackRecord(stateDir), r.record);

      const envAfter = await readFile(device.envFile);
      const rejectedAfter = await readFile(join(stateDir, 'rejected-commits.json'));
      const again = await checkAfterBoot(ports, { bootedEntry: 1, bootId: 'boot-2', failedCommit: null }, removeFailedEntries);
      assert.ok(again.fellBack);
      assert.equal(again.repeated, true);
      assert.deepEqual(again.record, r.record);
      assert.equal(removals.length, 1);
      assert.deepEqual(await readFile(device.envFile), envAfter);
      assert.deepEqual(await readFile(join(stateDir, 'rejected-commits.json')), rejectedAfter);

      assert.equal(await device.boot(), 0);
      assert.deepEqual(await checkAfterBoot(ports, { bootedEntry: 0, bootId: 'boot-3', failedCommit: null }, removeFailedEntries), { fellBack: false });
    });

    it('after the tries ran out: reason tries-exhausted, no check named, commit rejected', async () => {
      await stage(device, COMMIT_B, COMMIT_A, 2);
      assert.deepEqual([await device.boot(), await device.boot(), await device.boot()], [0, 0, 1]);
      const r = await checkAfterBoot(ports, { bootedEntry: 1, bootId: 'b', failedCommit: COMMIT_B }, removeFailedEntries);
      assert.ok(r.fellBack);
      assert.equal(r.record.reason, 'tries-exhausted');
      assert.deepEqual(r.record.failed, []);
      assert.deepEqual((await readRejectedCommits(stateDir)).map((e) => [e.reason, e.check]), [['tries-exhausted', null]]);
    });

    it('takes the failed commit from the recorded failure when the caller cannot name it, and ignores a stale one', async () => {
      await script(root, USR, 'required.d', '20-app', 'exit 1');
      await stage(device, COMMIT_B, COMMIT_A);
      await device.boot();
      await runHealthAndConfirm({ root, ports, boot: { bootedEntry: 0, commit: COMMIT_B } });
      await device.boot();
      const r = await checkAfterBoot(ports, { bootedEntry: 1, bootId: 'b' }, removeFailedEntries);
      assert.ok(r.fellBack);
      assert.equal(r.record.commit, COMMIT_B);

      const C = 'c'.repeat(64);
      await writeStateFile(stateDir, 'last-failure.json', { version: 1, commit: COMMIT_A, time: 't', report: { failed: [{ check: 'old', outputTail: '' }] } });
      device.entries = [COMMIT_A];
      await stage(device, C, COMMIT_A, 1);
      await device.boot();
      assert.equal(await device.boot(), 1);
      const r2 = await checkAfterBoot(ports, { bootedEntry: 1, bootId: 'b2', failedCommit: C }, removeFailedEntries);
      assert.ok(r2.fellBack);
      assert.equal(r2.record.reason, 'tries-exhausted');
      assert.deepEqual(r2.record.failed, []);
      assert.equal(await isRejected(stateDir, C), true);
    });

    it('resumes an interrupted rollback with the recorded reason, keeping the markers until the entries are written', async () => {
      await script(root, USR, 'required.d', '20-app', 'exit 1');
      await stage(device, COMMIT_B, COMMIT_A);
      await device.boot();
      await runHealthAndConfirm({ root, ports, boot: { bootedEntry: 0, commit: COMMIT_B } });
      await device.boot();
      const failing = async (): Promise<void> => { throw new Error('disk full'); };
      await assert.rejects(checkAfterBoot(ports, { bootedEntry: 1, bootId: 'b', failedCommit: COMMIT_B }, failing), /disk full/);
      assert.equal((await device.backend.readState()).summary.fallback, true);
      assert.equal((await readRollbackRecord(stateDir))?.finishedAt, null);
      assert.equal(await isRejected(stateDir, COMMIT_B), true);
      const r = await checkAfterBoot(ports, { bootedEntry: 1, bootId: 'b', failedCommit: null }, removeFailedEntries);
      assert.ok(r.fellBack);
      assert.equal(r.record.reason, 'health-check');
      assert.deepEqual(r.record.failed.map((f) => f.check), ['20-app']);
      assert.equal((await device.backend.readState()).summary.fallback, false);
    });
  });
}

describe('health/after-boot: input and state checks', () => {
  it('refuses a missing boot id, a bad commit and a malformed record', async () => {
    const { root, cleanup } = await tempRoot();
    try {
      const device = await makeDevice('grub', root, [COMMIT_A]);
      const ports = { backend: device.backend, stateDir: join(root, 'state') };
      const noop = async (): Promise<void> => {};
      await assert.rejects(checkAfterBoot(ports, { bootedEntry: 0, bootId: ' ' }, noop), (e: unknown) => isCanopyError(e, 'ERR_INVALID_ARGUMENT'));
      await assert.rejects(checkAfterBoot(ports, { bootedEntry: 0, bootId: 'x', failedCommit: 'B' }, noop), (e: unknown) => isCanopyError(e, 'ERR_CHECKSUM_INVALID'));
      await writeStateFile(ports.stateDir, 'last-rollback.json', { version: 1, bootId: 'x', reason: 'bored' });
      await assert.rejects(checkAfterBoot(ports, { bootedEntry: 0, bootId: 'x' }, noop), (e: unknown) => isCanopyError(e, 'ERR_STATE_INVALID'));
    } finally {
      await cleanup();
    }
  });
});
