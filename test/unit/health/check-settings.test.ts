import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isCanopyError } from '../../../agent/src/core/errors';
import {
  DEFAULT_CHECK_SETTINGS, checkSettingsFrom, readCheckSettings, resolveCheckSettings,
} from '../../../agent/src/health/check-settings';
import { tempRoot } from './fixtures';

const invalid = (e: unknown): boolean => isCanopyError(e, 'ERR_CONFIG_INVALID');

describe('health/check-settings', () => {
  it('parses seconds into milliseconds and checks every field', () => {
    assert.deepEqual(checkSettingsFrom({ timeoutSec: 1.5, retries: 2, retryDelaySec: 0 }, 'x'), { timeoutMs: 1500, retries: 2, retryDelayMs: 0 });
    assert.deepEqual(checkSettingsFrom({}, 'x'), {});
    for (const bad of [null, [], 'x', { timeoutSec: 0 }, { timeoutSec: 3601 }, { timeoutSec: '5' }, { retries: 1.5 },
      { retries: 11 }, { retries: -1 }, { retryDelaySec: 601 }, { timeoutSec: Number.NaN }, { extra: 1 }]) {
      assert.throws(() => checkSettingsFrom(bad, 'where'), invalid, JSON.stringify(bad));
    }
  });

  it('merges sources, later wins, over the defaults (60 s, no retries)', () => {
    assert.deepEqual(resolveCheckSettings(), DEFAULT_CHECK_SETTINGS);
    assert.deepEqual(DEFAULT_CHECK_SETTINGS, { timeoutMs: 60_000, retries: 0, retryDelayMs: 1000 });
    assert.deepEqual(resolveCheckSettings({ timeoutMs: 5 }, undefined, { retries: 3 }, { timeoutMs: 7 }), { timeoutMs: 7, retries: 3, retryDelayMs: 1000 });
  });

  it('reads a bounded JSON file and names it in errors', async () => {
    const { root, cleanup } = await tempRoot();
    try {
      const p = join(root, 'x.json');
      await writeFile(p, '{"retries": 1}');
      assert.deepEqual(await readCheckSettings(p), { retries: 1 });
      await writeFile(p, '{"retries": ');
      await assert.rejects(readCheckSettings(p), (e: unknown) => invalid(e) && (e as Error).message.includes(p));
      await writeFile(p, `{"retries": 1${' '.repeat(5000)}}`);
      await assert.rejects(readCheckSettings(p), (e: unknown) => invalid(e) && /larger than/.test((e as Error).message));
    } finally {
      await cleanup();
    }
  });
});
