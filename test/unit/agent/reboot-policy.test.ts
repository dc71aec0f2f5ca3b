/** Reboot policies: immediate, manual, and maintenance windows (also across midnight, in UTC). */
import { strict as assert } from 'node:assert';
import { inWindow, rebootAllowedNow, rebootDelayMs } from '../../../agent/src/agent/reboot-policy';

const at = (iso: string): number => Date.parse(iso);

describe('agent/reboot-policy', () => {
  const night = { days: ['sat' as const], start: '23:00', end: '02:00', timezone: 'UTC' as const };
  const office = { days: ['mon' as const, 'tue' as const], start: '09:30', end: '10:00', timezone: 'UTC' as const };

  it('inWindow: a same-day window excludes its end; a window across midnight belongs to the day it starts', () => {
    assert.equal(inWindow(office, at('2025-06-02T09:30:00Z')), true); // Monday
    assert.equal(inWindow(office, at('2025-06-02T09:59:59Z')), true);
    assert.equal(inWindow(office, at('2025-06-02T10:00:00Z')), false);
    assert.equal(inWindow(office, at('2025-06-04T09:45:00Z')), false); // Wednesday
    assert.equal(inWindow(night, at('2025-06-07T23:30:00Z')), true); // Saturday night
    assert.equal(inWindow(night, at('2025-06-08T01:59:00Z')), true); // early Sunday
    assert.equal(inWindow(night, at('2025-06-08T02:00:00Z')), false);
    assert.equal(inWindow(night, at('2025-06-07T01:00:00Z')), false); // early Saturday belongs to Friday
  });

  it('rebootDelayMs: 0 now, the wait until the window opens, null for manual', () => {
    assert.equal(rebootDelayMs({ policy: 'immediate' }, 0), 0);
    assert.equal(rebootDelayMs({ policy: 'manual' }, 0), null);
    const policy = { policy: 'maintenance-window' as const, window: office };
    assert.equal(rebootDelayMs(policy, at('2025-06-02T09:40:00Z')), 0);
    assert.equal(rebootDelayMs(policy, at('2025-06-02T09:00:00Z')), 30 * 60_000);
    assert.equal(rebootDelayMs(policy, at('2025-06-02T10:00:00Z')), (23 * 60 + 30) * 60_000, 'next day, Tuesday 09:30');
  });

  it('rebootAllowedNow: force and manual allow; a window allows only inside', () => {
    const policy = { policy: 'maintenance-window' as const, window: office };
    assert.equal(rebootAllowedNow(policy, at('2025-06-04T12:00:00Z'), false), false);
    assert.equal(rebootAllowedNow(policy, at('2025-06-04T12:00:00Z'), true), true);
    assert.equal(rebootAllowedNow({ policy: 'manual' }, 0, false), true);
  });
});
