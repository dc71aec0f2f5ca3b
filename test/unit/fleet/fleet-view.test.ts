import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DeviceEvent } from '../../../agent/src/channel/index';
import { defaultJournalPath, FleetView, formatFleetRows, journalFrom, loadJournalInto, readJournal, writeJournal } from '../../../agent/src/fleet/index';
import { iso, NEW, OLD, state, T0 } from './rollout-fixtures';

const ev = (device: string, id: string, body: Record<string, unknown>, at = T0 + 120_000): DeviceEvent =>
  ({ v: 1, type: 'event', fleet: 'acme', device, time: iso(at), id, ...body }) as unknown as DeviceEvent;

describe('fleet/fleet-view and journal', () => {
  it('keeps the newest state per device and folds newer health and rollback events over it', () => {
    const v = new FleetView();
    assert.equal(v.applyState(state('d1', 'updated', {}, T0 + 10_000)), true);
    assert.equal(v.applyState(state('d1', 'old', {}, T0 + 5_000)), false, 'an older state arriving late is ignored');
    v.applyEvent(ev('d1', 'e1', { kind: 'health', commit: NEW, result: 'fail', checks: [{ name: 'app', result: 'fail' }, { name: 'net', result: 'pass' }] }));
    v.applyEvent(ev('d1', 'e2', { kind: 'rollback', from: NEW, to: OLD, reason: 'health-failed', detail: 'app' }, T0 + 130_000));
    const [row] = v.rows();
    assert.equal(row.running?.commit, NEW);
    assert.deepEqual(row.lastHealth, { commit: NEW, result: 'fail', time: iso(T0 + 120_000), failed: ['app'] });
    assert.equal(row.lastRollback?.reason, 'health-failed');
  });

  it('records refused and rejected commands, drops duplicate events, and prints them', () => {
    const v = new FleetView();
    v.applyState(state('d1', 'old'));
    v.applyState(state('d2', 'old', { online: false }));
    assert.equal(v.applyEvent(ev('d1', 'e1', { kind: 'rejected', topic: 't', messageType: 'command', reason: 'unknown-key', message: 'no trusted key', nonce: 'n'.repeat(22) })), true);
    assert.equal(v.applyEvent(ev('d1', 'e1', { kind: 'rejected', topic: 't', messageType: 'command', reason: 'unknown-key', message: 'x' })), false, 'same event id again');
    v.applyEvent(ev('d2', 'e3', { kind: 'ack', nonce: 'm'.repeat(22), command: 'rollback', status: 'refused', reason: 'no-previous-deployment' }));
    const rows = v.rows();
    assert.equal(rows[0].lastRefusal?.reason, 'unknown-key');
    assert.deepEqual([rows[1].lastRefusal?.reason, rows[1].lastRefusal?.command], ['no-previous-deployment', 'rollback']);
    const text = formatFleetRows(rows);
    assert.match(text, /DEVICE\s+ONLINE\s+RUNNING/);
    assert.match(text, /d1\s+yes\s+1\.0 \(aaaaaaaaaaaa\)/);
    assert.match(text, /rollback no-previous-deployment/);
    assert.match(text, /2 devices, 1 online/);
  });

  it('keeps refusals in a journal across runs, atomically, private, per fleet', () => {
    const dir = mkdtempSync(join(tmpdir(), 'canopy-journal-'));
    try {
      const path = join(dir, 'sub', 'fleet-acme.json');
      assert.deepEqual(readJournal(path, 'acme').refusals, {}, 'missing file: empty journal');
      const v = new FleetView();
      v.applyEvent(ev('d1', 'e1', { kind: 'rejected', topic: 't', messageType: 'command', reason: 'expired', message: 'old' }));
      writeJournal(path, journalFrom(v, 'acme'));
      assert.equal(statSync(path).mode & 0o777, 0o600);
      const v2 = new FleetView();
      v2.applyState(state('d1', 'old'));
      loadJournalInto(v2, readJournal(path, 'acme'));
      assert.equal(v2.rows()[0].lastRefusal?.reason, 'expired');
      assert.throws(() => readJournal(path, 'other'), (e: { code?: string }) => e.code === 'ERR_STATE_INVALID');
      writeFileSync(path, '{not json');
      assert.throws(() => readJournal(path, 'acme'), /not JSON/);
      assert.equal(defaultJournalPath({ HOME: '/home/op' }, 'acme'), '/home/op/.local/state/canopy/fleet-acme.json');
      assert.equal(defaultJournalPath({ XDG_STATE_HOME: '/s', HOME: '/h' }, 'acme'), '/s/canopy/fleet-acme.json');
      assert.equal(defaultJournalPath({}, 'acme'), undefined);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
