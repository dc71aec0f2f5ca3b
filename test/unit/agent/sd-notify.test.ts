/** systemd notifications through systemd-notify, only under NOTIFY_SOCKET, with the watchdog kicked at half its interval. */
import { strict as assert } from 'node:assert';
import { jsonLogger } from '../../../agent/src/agent/logger';
import { systemdNotifier } from '../../../agent/src/agent/sd-notify';

const log = jsonLogger({ level: 'error', write: () => undefined });

describe('agent/sd-notify', () => {
  it('does nothing without NOTIFY_SOCKET', () => {
    const calls: string[][] = [];
    const n = systemdNotifier({}, log, async (a) => { calls.push(a); return 0; });
    n.ready('x');
    n.status('y');
    assert.deepEqual(calls, []);
  });

  it('sends READY, STATUS, STOPPING with --pid, and WATCHDOG=1 every half interval', async () => {
    const calls: string[][] = [];
    const n = systemdNotifier({ NOTIFY_SOCKET: '/run/systemd/notify', WATCHDOG_USEC: '2000000' }, log, async (a) => { calls.push(a); return 0; }, 4242);
    n.ready('phase idle');
    n.status('phase downloading');
    assert.deepEqual(calls, [['--pid=4242', '--ready', '--status=phase idle'], ['--pid=4242', '--status=phase downloading']]);
    await new Promise((r) => setTimeout(r, 1100));
    assert.deepEqual(calls[2], ['--pid=4242', 'WATCHDOG=1']);
    n.stopping();
    n.close();
    assert.deepEqual(calls[calls.length - 1], ['--pid=4242', 'STOPPING=1']);
  });

  it('leaves the watchdog to the process WATCHDOG_PID names', () => {
    const calls: string[][] = [];
    const n = systemdNotifier({ NOTIFY_SOCKET: '/x', WATCHDOG_USEC: '2000000', WATCHDOG_PID: '1' }, log, async (a) => { calls.push(a); return 0; }, 4242);
    n.close();
    assert.deepEqual(calls, []);
  });
});
