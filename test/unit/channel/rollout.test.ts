import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { checkWaves, rolloutBucket, waveOpenFor, wavePlacement } from '../../../agent/src/channel/rollout';

// Vectors computed with Python's hashlib (see PROTOCOL.md, "Rollout buckets").
const VECTORS: Array<[string, string, number]> = [
  ['r-2025-03-01', 'dev-0001', 68.92],
  ['r-2025-03-01', 'dev-0002', 19.11],
  ['spring-release', 'a1b2c3d4e5f6', 95.61],
  ['r1', '', 88.55],
];

describe('channel/rollout', () => {
  it('matches the documented vectors', () => {
    for (const [r, d, b] of VECTORS) assert.equal(rolloutBucket(r, d), b, `${r} / ${d}`);
  });

  it('is the documented formula (checked with an independent computation)', () => {
    for (let i = 0; i < 200; i++) {
      const r = `rollout-${i % 7}`;
      const d = `device-${i}-ü`;
      const hex = createHash('sha256').update(Buffer.from(`${r}\n${d}`, 'utf8')).digest('hex').slice(0, 16);
      assert.equal(rolloutBucket(r, d), Number(BigInt(`0x${hex}`) % 10000n) / 100);
    }
  });

  it('is stable and spread roughly uniformly over 10,000 devices', () => {
    const counts = new Array<number>(10).fill(0);
    for (let i = 0; i < 10_000; i++) {
      const b = rolloutBucket('r-uniform', `dev-${i}`);
      assert.ok(b >= 0 && b < 100);
      assert.equal(b, rolloutBucket('r-uniform', `dev-${i}`));
      counts[Math.floor(b / 10)]++;
    }
    // Chi-square with 9 degrees of freedom; 27.9 is the 0.1% critical value.
    const chi = counts.reduce((s, c) => s + (c - 1000) ** 2 / 1000, 0);
    assert.ok(chi < 27.9, `deciles ${counts.join(',')} (chi² ${chi.toFixed(1)})`);
  });

  it('gives each rollout a different order of devices', () => {
    let same = 0;
    for (let i = 0; i < 1000; i++) if (Math.floor(rolloutBucket('a', `d${i}`) / 10) === Math.floor(rolloutBucket('b', `d${i}`) / 10)) same++;
    assert.ok(same < 200, `${same} of 1000 devices stayed in the same decile`);
  });

  it('places a device in the first wave above its bucket, cumulatively', () => {
    // dev-0001 has bucket 68.92 in r-2025-03-01
    const waves = (open: boolean[]) => ({
      rollout: { id: 'r-2025-03-01', waves: [{ name: 'canary', percent: 1, open: open[0] }, { name: 'half', percent: 68.93, open: open[1] }, { name: 'all', percent: 100, open: open[2] }] },
    });
    assert.deepEqual(wavePlacement(waves([true, true, false]), 'dev-0001'), { bucket: 68.92, index: 1, wave: { name: 'half', percent: 68.93, open: true }, open: true });
    assert.equal(waveOpenFor(waves([true, false, true]), 'dev-0001'), false, 'its own wave is closed');
    const edge = { rollout: { id: 'r-2025-03-01', waves: [{ name: 'w', percent: 68.92, open: true }] } };
    assert.deepEqual(wavePlacement(edge, 'dev-0001').index, -1, 'bucket equal to the percent is outside the wave');
    assert.equal(waveOpenFor(edge, 'dev-0001'), false);
  });

  it('checks that waves grow and use two decimals at most', () => {
    assert.equal(checkWaves([{ name: 'a', percent: 10, open: true }, { name: 'b', percent: 100, open: false }]), undefined);
    assert.match(checkWaves([{ name: 'a', percent: 10, open: true }, { name: 'b', percent: 10, open: false }])!, /greater/);
    assert.match(checkWaves([{ name: 'a', percent: 10.005, open: true }])!, /two decimals/);
    assert.match(checkWaves([{ name: 'a', percent: 10, open: true }, { name: 'a', percent: 20, open: true }])!, /twice/);
  });
});
