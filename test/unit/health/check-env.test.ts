import assert from 'node:assert/strict';
import { isCanopyError } from '../../../agent/src/core/errors';
import { checkEnv } from '../../../agent/src/health/check-env';

describe('health/check-env', () => {
  const check = { kind: 'wanted' as const, name: '10-x', attempt: 2, timeoutMs: 1500 };

  it('is minimal: no trial variables when the trial is unknown, tries only on trial', () => {
    assert.deepEqual(checkEnv({}, check), {
      PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C',
      CANOPY_CHECK_KIND: 'wanted', CANOPY_CHECK_NAME: '10-x', CANOPY_CHECK_ATTEMPT: '2', CANOPY_CHECK_TIMEOUT: '2',
    });
    const off = checkEnv({ trial: false, triesLeft: 2, commit: null }, check);
    assert.equal(off.CANOPY_TRIAL, '0');
    assert.equal(off.CANOPY_TRIES_LEFT, undefined);
    assert.equal(off.CANOPY_COMMIT, undefined);
  });

  it('refuses NUL bytes, huge values and names outside CANOPY_*', () => {
    const bad = (e: unknown): boolean => isCanopyError(e, 'ERR_INVALID_ARGUMENT');
    assert.throws(() => checkEnv({ version: 'a\0b' }, check), bad);
    assert.throws(() => checkEnv({ osname: 'x'.repeat(5000) }, check), bad);
    assert.throws(() => checkEnv({}, check, { LD_PRELOAD: '/x.so' }), bad);
    assert.equal(checkEnv({}, check, { CANOPY_HEALTH: 'red' }).CANOPY_HEALTH, 'red');
  });
});
