import { strict as assert } from 'node:assert';
import { parseDateTime } from '../../../agent/src/cli/datetime';
import { isCanopyError } from '../../../agent/src/core/errors';

describe('command-line dates', () => {
  const now = Date.UTC(2026, 0, 31, 12, 0, 0);
  let savedTz: string | undefined;
  before(() => {
    savedTz = process.env.TZ;
  });
  afterEach(() => {
    if (savedTz === undefined) delete process.env.TZ;
    else process.env.TZ = savedTz;
  });

  // Expected values are what ostree 2022.7 stored for the same --timestamp
  // (TZ=Europe/Paris where the text has no zone).
  it('reads epoch seconds and ISO dates with zones', () => {
    assert.equal(parseDateTime('@1700000000', now), 1700000000);
    assert.equal(parseDateTime('@1700000000.9', now), 1700000000);
    assert.equal(parseDateTime('2023-01-01T12:34:56Z', now), 1672576496);
    assert.equal(parseDateTime('2023-01-01T12:34:56.7Z', now), 1672576496);
    assert.equal(parseDateTime('2023-01-01 12:34:56 UTC', now), 1672576496);
    assert.equal(parseDateTime('2023-01-01T12:34:56+0100', now), 1672572896);
    assert.equal(parseDateTime('2023-01-01 12:34:56 +01:00', now), 1672572896);
    assert.equal(parseDateTime('2023-01-01 12:34:56 -05', now), 1672594496);
    assert.equal(parseDateTime('2023-01-01 00:00:00 +0000', now), 1672531200);
  });

  it('reads zoneless times in the local zone (TZ), like parse_datetime', () => {
    process.env.TZ = 'Europe/Paris';
    assert.equal(parseDateTime('2023-01-01', now), 1672527600);
    assert.equal(parseDateTime('  2023-01-01 ', now), 1672527600);
    assert.equal(parseDateTime('2023-01-01 12:34', now), 1672572840);
    assert.equal(parseDateTime('2023-1-2 3:04:05', now), 1672625045);
    assert.equal(parseDateTime('2023-07-01T12:00:00', now), Date.UTC(2023, 6, 1, 10) / 1000, 'summer time');
    process.env.TZ = 'UTC';
    assert.equal(parseDateTime('2023-01-01T12:34:56', now), 1672576496);
  });

  it('reads now and relative offsets', () => {
    process.env.TZ = 'UTC';
    const s = now / 1000;
    assert.equal(parseDateTime('now', now), s);
    assert.equal(parseDateTime('yesterday', now), s - 86400);
    assert.equal(parseDateTime('1 day ago', now), s - 86400);
    assert.equal(parseDateTime('2 weeks ago', now), s - 14 * 86400);
    assert.equal(parseDateTime('90 minutes', now), s + 5400);
    assert.equal(parseDateTime('1 month ago', now), Date.UTC(2025, 11, 31, 12) / 1000);
    assert.equal(parseDateTime('1 year ago', now), Date.UTC(2025, 0, 31, 12) / 1000);
  });

  it('refuses what it does not read, with ERR_USAGE', () => {
    for (const bad of ['20230101T123456', 'next tuesday', '2023-13-01', '2023-02-30', '2023-01-01 25:00', '5 fortnights ago ago', '3 constructors ago', '', '@']) {
      assert.throws(() => parseDateTime(bad, now), (e: unknown) => isCanopyError(e, 'ERR_USAGE'), bad);
    }
  });
});
