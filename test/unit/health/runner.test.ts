import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runHealthChecks, runHealthHooks } from '../../../agent/src/health/runner';
import { decideVerdict } from '../../../agent/src/health/verdict';
import { COMMIT_A, ETC, USR, maskLink, plain, script, tempRoot } from './fixtures';

describe('health/runner', () => {
  let root = '';
  let cleanup = async (): Promise<void> => {};
  beforeEach(async () => {
    ({ root, cleanup } = await tempRoot());
  });
  afterEach(() => cleanup());

  it('runs required then wanted in order; a wanted failure only warns', async () => {
    const log = join(root, 'order.log');
    await script(root, USR, 'required.d', '20-second', `echo required-20 >> '${log}'`);
    await script(root, USR, 'required.d', '10-first', `echo required-10 >> '${log}'`);
    await script(root, USR, 'wanted.d', '10-flaky', `echo wanted-10 >> '${log}'; echo 'disk almost full' >&2; exit 4`);
    const seen: string[] = [];
    const run = await runHealthChecks({ root, onResult: (r) => seen.push(`${r.kind}/${r.name}:${r.status}`) });
    assert.equal(await readFile(log, 'utf8'), 'required-10\nrequired-20\nwanted-10\n');
    assert.deepEqual(seen, ['required/10-first:passed', 'required/20-second:passed', 'wanted/10-flaky:failed']);
    const verdict = decideVerdict(run);
    assert.equal(verdict.healthy, true);
    assert.deepEqual(verdict.failed, []);
    assert.equal(verdict.warnings.length, 1);
    assert.equal(verdict.warnings[0].check, '10-flaky');
    assert.equal(verdict.warnings[0].exitCode, 4);
    assert.match(verdict.warnings[0].outputTail ?? '', /disk almost full/);
  });

  it('stops at the first required failure (greenboot), skipping the rest and wanted.d', async () => {
    const log = join(root, 'order.log');
    await script(root, USR, 'required.d', '10-ok', `echo 10 >> '${log}'`);
    await script(root, USR, 'required.d', '20-broken', `echo 20 >> '${log}'; echo 'app.service failed' ; exit 1`);
    await script(root, USR, 'required.d', '30-later', `echo 30 >> '${log}'`);
    await script(root, USR, 'wanted.d', '10-w', `echo w >> '${log}'`);
    const run = await runHealthChecks({ root });
    assert.equal(await readFile(log, 'utf8'), '10\n20\n');
    assert.deepEqual(run.results.map((r) => r.status), ['passed', 'failed', 'skipped']);
    const verdict = decideVerdict(run);
    assert.equal(verdict.healthy, false);
    assert.deepEqual(verdict.failed.map((f) => [f.check, f.kind, f.exitCode, f.timeout]), [['20-broken', 'required', 1, false]]);
    assert.match(verdict.failed[0].outputTail, /app.service failed/);

    const all = await runHealthChecks({ root, keepGoing: true });
    assert.deepEqual(all.results.map((r) => `${r.name}:${r.status}`), ['10-ok:passed', '20-broken:failed', '30-later:passed', '10-w:passed']);
  });

  it('times out a check after its sidecar timeout and fails the verdict', async () => {
    await script(root, USR, 'required.d', '10-hangs', 'echo waiting; sleep 100');
    await plain(root, USR, 'required.d', '10-hangs.json', '{"timeoutSec": 0.3}');
    const run = await runHealthChecks({ root, killGraceMs: 500 });
    assert.equal(run.results[0].status, 'timeout');
    assert.equal(run.results[0].timeoutMs, 300);
    const verdict = decideVerdict(run);
    assert.deepEqual(verdict.failed.map((f) => [f.check, f.timeout, f.exitCode]), [['10-hangs', true, null]]);
    assert.match(verdict.failed[0].outputTail, /waiting/);
  });

  it('settings: configuration beats the sidecar, /etc sidecar beats /usr/lib', async () => {
    await script(root, USR, 'required.d', '10-a', 'echo "$CANOPY_CHECK_TIMEOUT"');
    await plain(root, USR, 'required.d', '10-a.json', '{"timeoutSec": 5}');
    await plain(root, ETC, 'required.d', '10-a.json', '{"timeoutSec": 7}');
    let run = await runHealthChecks({ root });
    assert.equal(run.results[0].timeoutMs, 7000);
    assert.equal(run.results[0].output, '7\n');
    run = await runHealthChecks({ root, checks: { 'required.d/10-a': { timeoutSec: 11 } } });
    assert.equal(run.results[0].timeoutMs, 11_000);
    run = await runHealthChecks({ root, defaults: { timeoutSec: 2 }, layers: [USR] });
    assert.equal(run.results[0].timeoutMs, 5000);
  });

  it('an invalid settings file fails its required check (fail closed)', async () => {
    await script(root, USR, 'required.d', '10-a', 'exit 0');
    await plain(root, USR, 'required.d', '10-a.json', '{"timeout": 5}');
    const run = await runHealthChecks({ root });
    assert.equal(run.results[0].status, 'error');
    assert.match(run.results[0].message ?? '', /unknown setting "timeout"/);
    assert.equal(decideVerdict(run).healthy, false);
  });

  it('retries a failing check as its settings ask, and passes when an attempt passes', async () => {
    const counter = join(root, 'count');
    await script(root, USR, 'required.d', '10-racy', `n=$(cat '${counter}' 2>/dev/null || echo 0); n=$((n+1)); echo $n > '${counter}'; echo "attempt $CANOPY_CHECK_ATTEMPT"; [ $n -ge 3 ]`);
    await plain(root, USR, 'required.d', '10-racy.json', '{"retries": 2, "retryDelaySec": 0}');
    const run = await runHealthChecks({ root });
    assert.equal(run.results[0].status, 'passed');
    assert.equal(run.results[0].attempts, 3);
    assert.equal(run.results[0].output, 'attempt 3\n');

    await plain(root, ETC, 'required.d', '10-racy.json', '{"retries": 1, "retryDelaySec": 0}');
    await writeFile(counter, '-10\n');
    const failed = await runHealthChecks({ root });
    assert.equal(failed.results[0].status, 'failed');
    assert.equal(failed.results[0].attempts, 2);
  });

  it('gives each check a clean environment with the CANOPY_* variables', async () => {
    process.env.CANOPY_LEAK_TEST = 'leaked';
    try {
      await script(root, USR, 'required.d', '10-env', 'env | sort');
      const run = await runHealthChecks({
        root, context: { commit: COMMIT_A, osname: 'os', version: '2.0', bootloader: 'uboot', trial: true, triesLeft: 2 },
      });
      const env = Object.fromEntries(run.results[0].output.trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
      for (const k of ['PWD', 'SHLVL', '_']) delete env[k];
      assert.deepEqual(env, {
        PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C',
        CANOPY_COMMIT: COMMIT_A, CANOPY_OSNAME: 'os', CANOPY_VERSION: '2.0', CANOPY_BOOTLOADER: 'uboot',
        CANOPY_TRIAL: '1', CANOPY_TRIES_LEFT: '2',
        CANOPY_CHECK_KIND: 'required', CANOPY_CHECK_NAME: '10-env', CANOPY_CHECK_ATTEMPT: '1', CANOPY_CHECK_TIMEOUT: '60',
      });
    } finally {
      delete process.env.CANOPY_LEAK_TEST;
    }
  });

  it('skips non-executable files with a warning and honours masks', async () => {
    await script(root, USR, 'required.d', '10-noexec', 'exit 1', 0o644);
    await script(root, USR, 'required.d', '20-masked', 'exit 1');
    await maskLink(root, ETC, 'required.d', '20-masked');
    await script(root, USR, 'required.d', '30-ok', 'exit 0');
    const run = await runHealthChecks({ root });
    assert.deepEqual(run.results.map((r) => r.name), ['30-ok']);
    const verdict = decideVerdict(run);
    assert.equal(verdict.healthy, true);
    assert.deepEqual(verdict.warnings.map((w) => w.check), ['10-noexec']);
  });

  it('runs green.d on a good verdict and red.d on a bad one, with the verdict in the environment', async () => {
    const out = join(root, 'hooks.log');
    await script(root, USR, 'green.d', '10-g', `echo "green $CANOPY_HEALTH [$CANOPY_HEALTH_FAILED] $CANOPY_HEALTH_ACTION" >> '${out}'`);
    await script(root, ETC, 'red.d', '10-r', `echo "red $CANOPY_HEALTH [$CANOPY_HEALTH_FAILED] $CANOPY_HEALTH_ACTION" >> '${out}'; exit 1`);
    const good = await runHealthHooks({ healthy: true, failed: [], warnings: [] }, { root, action: 'marked-good' });
    assert.deepEqual(good.results.map((r) => [r.kind, r.name, r.status]), [['green', '10-g', 'passed']]);
    const failure = { kind: 'required' as const, status: 'failed' as const, exitCode: 1, signal: null, timeout: false, message: null, attempts: 1, outputTail: '' };
    const bad = await runHealthHooks(
      { healthy: false, failed: [{ ...failure, check: '10-a' }, { ...failure, check: '20-b' }], warnings: [] },
      { root, action: 'marked-bad' },
    );
    assert.deepEqual(bad.results.map((r) => [r.kind, r.name, r.status]), [['red', '10-r', 'failed']]);
    assert.equal(await readFile(out, 'utf8'), 'green green [] marked-good\nred red [10-a 20-b] marked-bad\n');
  });
});
