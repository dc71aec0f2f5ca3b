import { strict as assert } from 'node:assert';
import { formatBytes, formatDuration, formatSizeSi, ProgressLine } from '../../../agent/src/cli/progress';

const sink = (isTTY: boolean, columns = 200): { writes: string[]; isTTY: boolean; columns: number; write(s: string | Uint8Array): void } => ({
  writes: [], isTTY, columns, write(s) { this.writes.push(String(s)); },
});

describe('progress line', () => {
  it('draws counts, bytes, rate and ETA on a TTY, throttled, and clears at the end', () => {
    const s = sink(true);
    let t = 0;
    const p = new ProgressLine(s, { label: 'commit', now: () => t });
    t = 2000;
    p.update({ done: 10, total: 100, unit: 'files', bytesDone: 2 * 1024 * 1024, bytesTotal: 10 * 1024 * 1024 });
    assert.equal(s.writes.length, 1);
    assert.equal(s.writes[0], '\rcommit: 10/100 files, 2.0 MiB/10.0 MiB, 1.0 MiB/s, ETA 0:08\x1b[K');
    t = 2050;
    p.update({ done: 11, total: 100, bytesDone: 3 << 20, bytesTotal: 10 << 20 });
    assert.equal(s.writes.length, 1, 'redraws at most every 100 ms');
    t = 2060;
    p.update({ done: 100, total: 100, bytesDone: 10 << 20, bytesTotal: 10 << 20 });
    assert.equal(s.writes.length, 2, 'the final state is always drawn');
    p.finish();
    assert.equal(s.writes[2], '\r\x1b[K');
  });

  it('estimates from counts when there are no bytes, and fits the terminal width', () => {
    const s = sink(true, 30);
    let t = 0;
    const p = new ProgressLine(s, { label: 'fsck', now: () => t });
    t = 10_000;
    assert.equal(p.format({ done: 25, total: 100 }, t), 'fsck: 25/100 objects, ETA 0:30');
    p.update({ done: 25, total: 100, unit: 'metadata objects' });
    assert.equal(s.writes[0].length, '\r'.length + 29 + '\x1b[K'.length);
  });

  it('is silent when stderr is not a TTY or when disabled', () => {
    for (const [s, enabled] of [[sink(false), true], [sink(true), false]] as const) {
      const p = new ProgressLine(s, { label: 'x', enabled });
      p.update({ done: 1, total: 1 });
      p.finish();
      assert.deepEqual(s.writes, []);
    }
  });

  it('formats sizes and durations', () => {
    assert.equal(formatBytes(512), '512 B');
    assert.equal(formatBytes(1536), '1.5 KiB');
    assert.equal(formatDuration(59.6), '1:00');
    assert.equal(formatDuration(3725), '1:02:05');
    // g_format_size, as ostree prints sizes
    assert.equal(formatSizeSi(1), '1 byte');
    assert.equal(formatSizeSi(158), '158 bytes');
    assert.equal(formatSizeSi(1500), '1.5 kB');
    assert.equal(formatSizeSi(2_000_000), '2.0 MB');
  });
});
