import assert from 'node:assert/strict';
import type { CheckResult, HealthRun } from '../../../agent/src/health/check-result';
import { decideVerdict, healthReport } from '../../../agent/src/health/verdict';
import { COMMIT_A } from './fixtures';

function result(name: string, kind: CheckResult['kind'], status: CheckResult['status'], extra: Partial<CheckResult> = {}): CheckResult {
  return {
    name, kind, path: `/usr/lib/canopy/health/${kind}.d/${name}`, layer: '/usr/lib/canopy/health', status,
    exitCode: status === 'passed' ? 0 : status === 'failed' ? 1 : null, signal: null, timeoutMs: 60_000,
    attempts: status === 'skipped' ? 0 : 1, durationMs: 12.7, output: '', outputBytes: 0, outputTruncated: false, ...extra,
  };
}

function run(results: CheckResult[], notes: HealthRun['notes'] = []): HealthRun {
  return { startedAt: '2025-01-01T00:00:00.000Z', durationMs: 99.4, results, notes };
}

describe('health/verdict', () => {
  it('is healthy when every required check passed; wanted failures and skipped files warn', () => {
    const v = decideVerdict(run([
      result('10-a', 'required', 'passed'),
      result('10-w', 'wanted', 'timeout', { message: 'timed out after 60 s', output: 'slow' }),
    ], [{ level: 'warning', kind: 'required', name: '20-x', path: '/p/20-x', message: 'skipped: not executable' },
      { level: 'info', kind: 'required', name: '30-m', path: '/p/30-m', message: 'masked by /p/30-m' }]));
    assert.equal(v.healthy, true);
    assert.deepEqual(v.failed, []);
    assert.deepEqual(v.warnings.map((w) => [w.check, w.kind, w.timeout ?? null]), [['10-w', 'wanted', true], ['20-x', 'required', null]]);
    assert.match(v.warnings[0].message, /timed out/);
  });

  it('fails on any required failure, timeout, signal or start error, never on a skipped one', () => {
    const v = decideVerdict(run([
      result('10-exit', 'required', 'failed', { exitCode: 2, output: 'x'.repeat(10_000) + 'END' }),
      result('20-sig', 'required', 'failed', { exitCode: null, signal: 'SIGSEGV' }),
      result('30-time', 'required', 'timeout'),
      result('40-start', 'required', 'error', { message: 'cannot start: spawn ENOEXEC' }),
      result('50-after', 'required', 'skipped'),
    ]), { tailChars: 100 });
    assert.equal(v.healthy, false);
    assert.deepEqual(v.failed.map((f) => [f.check, f.status, f.exitCode, f.signal, f.timeout]), [
      ['10-exit', 'failed', 2, null, false], ['20-sig', 'failed', null, 'SIGSEGV', false],
      ['30-time', 'timeout', null, null, true], ['40-start', 'error', null, null, false],
    ]);
    assert.equal(v.failed[0].outputTail.length, 100);
    assert.ok(v.failed[0].outputTail.endsWith('END'));
    assert.equal(v.failed[3].message, 'cannot start: spawn ENOEXEC');
  });

  it('warns when no required check ran at all', () => {
    const v = decideVerdict(run([]));
    assert.equal(v.healthy, true);
    assert.deepEqual(v.warnings, [{ check: null, kind: 'required', message: 'no required check ran' }]);
  });

  it('builds a JSON-safe report without the output of passing checks', () => {
    const r = run([result('10-a', 'required', 'passed', { output: 'lots of chatter' }), result('20-b', 'required', 'failed', { output: 'why' })]);
    const v = decideVerdict(r);
    const report = healthReport(r, v, { commit: COMMIT_A, bootloader: 'grub', trial: true, triesLeft: 1 }, { results: [result('10-g', 'red', 'passed')] });
    assert.deepEqual(JSON.parse(JSON.stringify(report)), report);
    assert.equal(report.healthy, false);
    assert.deepEqual(report.deployment, { commit: COMMIT_A, osname: null, version: null, bootloader: 'grub', trial: true, triesLeft: 1 });
    assert.deepEqual(report.checks.map((c) => [c.name, c.status, c.durationMs]), [['10-a', 'passed', 13], ['20-b', 'failed', 13]]);
    assert.ok(!JSON.stringify(report).includes('chatter'));
    assert.equal(report.failed[0].outputTail, 'why');
    assert.deepEqual(report.hooks.map((h) => h.name), ['10-g']);
    assert.equal(report.durationMs, 99);
  });
});
