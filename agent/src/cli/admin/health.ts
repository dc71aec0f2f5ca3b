/**
 * `canopy-agent admin health`: the per-boot health step (canopy-health.service runs it
 * once per boot), also useful by hand.
 *
 * 1. After a fallback (the boot loader booted the previous entry): record why, remove the
 *    failed deployment from the boot entries, clear the boot-loader markers, and reject
 *    the failed commit (health/after-boot.ts).
 * 2. Run `required.d` and `wanted.d`, print the verdict.
 * 3. Unless `--no-confirm`: on a trial boot mark it good, or record the failure, mark it
 *    bad and reboot; run `green.d` / `red.d`. Without a trial nothing is written to the
 *    boot loader.
 *
 * Exit status 0 when healthy, 1 when not.
 */
import { join } from 'node:path';
import { createNoneBackend } from '../../bootloader/index';
import { checkAfterBoot, runHealthAndConfirm, type AfterBootResult, type CheckResult } from '../../health/index';
import { nameOf, undeploy } from '../../sysroot/index';
import { defineCommand } from '../command';
import { ExitCode } from '../exit-codes';
import { SYSROOT_ONLY, sysrootOptions, sysrootPath } from './common';
import { HEALTH_BOOT_OPTIONS, backendFor, bootView, readBootId, systemReboot } from './health-context';

function checkLine(r: CheckResult): string {
  const tag = { passed: 'PASS', failed: 'FAIL', timeout: 'TIME', error: 'ERR ', skipped: 'SKIP' }[r.status];
  const why = r.status === 'failed' ? (r.signal ? ` killed by ${r.signal}` : ` exited with status ${String(r.exitCode)}`)
    : r.message ? ` ${r.message}` : '';
  const retries = r.attempts > 1 ? `, ${r.attempts} attempts` : '';
  return `${tag}  ${r.kind}.d/${r.name}${why} (${(r.durationMs / 1000).toFixed(1)} s${retries})`;
}

function indented(output: string, lines = 20): string[] {
  if (output === '') return [];
  const all = output.replace(/\n$/, '').split('\n');
  return (all.length > lines ? ['…', ...all.slice(-lines)] : all).map((l) => `      | ${l}`);
}

const ACTION_TEXT: Record<string, string> = {
  'marked-good': 'the trial boot is confirmed (marked good)',
  'marked-bad': 'the trial boot is marked bad; the next boot falls back',
  'no-trial': 'not a trial boot: nothing to confirm',
  'fallback-recorded': 'a fallback is recorded: nothing confirmed',
  'booted-previous': 'running the previous boot entry: nothing confirmed',
};

export const healthCommand = defineCommand({
  name: 'admin health',
  summary: 'Run the health checks; on a trial boot mark it good, or bad and reboot',
  usage: '',
  description: 'Runs required.d (must pass) and wanted.d (only warn) from /usr/lib/canopy/health and\n'
    + '/etc/canopy/health. On a trial boot the verdict is applied through the boot loader: healthy\n'
    + 'marks it good; unhealthy records the failure, marks it bad, runs red.d and reboots. After a\n'
    + 'fallback it first finishes the rollback and rejects the failed commit. Exit status 1 when unhealthy.',
  options: {
    ...SYSROOT_ONLY,
    ...HEALTH_BOOT_OPTIONS,
    'no-confirm': { type: 'boolean', help: 'Only run the checks and print the verdict: no boot-loader write, hook or reboot' },
    'keep-going': { type: 'boolean', help: 'Run every check even after a required one failed' },
    'no-reboot': { type: 'boolean', help: 'After marking a trial bad, do not reboot (say that a reboot is needed)' },
    root: { type: 'string', value: 'PATH', help: 'Prefix of the check directories (default /)' },
  },
  operands: [0, 0],
  repo: false,
}, async (ctx, { values }) => {
  const sysroot = sysrootPath(ctx, values.sysroot);
  const view = bootView(sysroot);
  const booted = view.booted;
  const confirm = !values['no-confirm'] && view.bootedEntry !== null;
  if (!values['no-confirm'] && view.bootedEntry === null) ctx.out.warn(`not booted from a deployment of ${sysroot}: nothing will be confirmed`);
  const backend = view.bootedEntry === null ? createNoneBackend() : await backendFor(sysroot, values);
  let rebootSkipped = false;
  const ports = {
    backend,
    stateDir: values['state-dir'],
    reboot: values['no-reboot'] ? async () => { rebootSkipped = true; } : systemReboot,
  };
  let rollback: AfterBootResult | null = null;
  if (confirm && booted && view.bootedEntry !== null) {
    rollback = await checkAfterBoot(ports, {
      bootedEntry: view.bootedEntry, bootId: readBootId(), bootedCommit: booted.csum,
      failedCommit: view.bootedEntry === 1 ? view.entries[0].csum : null,
    }, async () => {
      const now = bootView(sysroot);
      const first = now.entries[0];
      if (first && now.booted && nameOf(first) !== nameOf(now.booted)) await undeploy(sysroot, first.index, sysrootOptions(ctx, sysroot));
    });
    if (rollback.fellBack && !rollback.repeated) {
      const r = rollback.record;
      ctx.out.text(`Rolled back from ${r.commit ?? 'an unknown commit'}: ${r.reason}${r.failed.length ? ` (${r.failed.map((f) => f.check).join(', ')})` : ''}`);
    }
  }
  const result = await runHealthAndConfirm({
    root: values.root ?? '/',
    keepGoing: values['keep-going'],
    ports,
    boot: { bootedEntry: view.bootedEntry ?? 0, commit: booted?.csum ?? null },
    confirm,
    context: {
      osname: booted?.stateroot ?? null,
      deployment: booted ? join(sysroot, 'ostree/deploy', booted.stateroot, 'deploy', nameOf(booted)) : null,
    },
  });
  const { verdict, outcome } = result;
  const data = {
    healthy: verdict.healthy,
    verdict,
    report: result.report,
    outcome: outcome && { action: outcome.action, reason: outcome.reason, rebootRequested: outcome.rebootRequested, bootState: outcome.state.summary, hookError: outcome.hookError ?? null },
    rollback: rollback?.fellBack ? rollback.record : null,
  };
  ctx.out.result(data, () => {
    const lines: string[] = [];
    for (const r of result.run.results) {
      lines.push(checkLine(r));
      if (r.status !== 'passed' && r.status !== 'skipped') lines.push(...indented(r.output));
    }
    for (const w of verdict.warnings) lines.push(`warning: ${w.message}`);
    lines.push(verdict.healthy ? 'healthy' : `unhealthy: ${verdict.failed.map((f) => f.check).join(', ')}`);
    if (outcome) lines.push(ACTION_TEXT[outcome.action === 'none' ? outcome.reason : outcome.action]);
    if (outcome?.hookError) lines.push(`warning: hooks: ${outcome.hookError}`);
    if (rebootSkipped) lines.push('reboot needed (not done: --no-reboot)');
    return lines.join('\n');
  });
  return verdict.healthy ? ExitCode.OK : ExitCode.FAILURE;
});
