/**
 * The health side of the runner's ports, on top of the health module:
 *
 * - {@link HealthOps.afterBoot}: `checkAfterBoot` (detect a boot-loader
 *   fallback, record it, remove the failed deployment from the boot entries,
 *   clear the markers, reject the commit). Only after a reboot, or when the
 *   boot loader recorded a fallback: in the same boot, a deployment written
 *   but not yet booted makes the running one entry 1, which is no fallback.
 * - {@link HealthOps.runHealth}: `runHealthAndConfirm` on the booted target
 *   (mark good, or record the failure, mark bad); the reboot it asks for is
 *   handed back to the state machine, which saves `rolling-back` first.
 */
import { join } from 'node:path';
import type { BootloaderBackend } from '../bootloader/index';
import type { AgentConfig } from '../config/index';
import { checkAfterBoot, runHealthAndConfirm, type HealthFailure, type HealthReportCheck } from '../health/index';
import { undeploy, type SysrootOptions } from '../sysroot/index';
import { bootView, bootedHint, type BootSources } from './boot-view';
import type { HealthCheckSummary } from './events';
import type { Logger } from './logger';
import type { BootFacts, FallbackFacts, HealthOutcome } from './ports';
import type { Target } from './states';

export interface HealthOpsOptions {
  config: AgentConfig;
  boot: BootSources;
  backend: () => Promise<BootloaderBackend>;
  /** The health state directory (`<stateDir>/health`, shared with `admin health`). */
  stateDir: string;
  now: () => number;
  log: Logger;
}

/** One line per failed check with the tail of its output, for reports (at most 2048 characters). */
export function describeFailures(failed: readonly HealthFailure[]): string {
  const lines = failed.map((f) => {
    const why = f.timeout ? 'timed out' : f.status === 'error' ? (f.message ?? 'could not run')
      : f.signal ? `killed by ${f.signal}` : `exited with status ${String(f.exitCode)}`;
    const tail = f.outputTail.trim().split('\n').slice(-8).join('\n');
    return `${f.check} ${why}${tail ? `: ${tail}` : ''}`;
  });
  const text = lines.join('\n');
  return text.length > 2048 ? `${text.slice(0, 2047)}…` : text;
}

function summary(c: HealthReportCheck): HealthCheckSummary {
  const result = c.status === 'passed' ? 'pass' : c.status === 'skipped' ? 'skip' : c.status === 'timeout' ? 'timeout' : 'fail';
  return {
    name: c.name.slice(0, 255), result, required: c.kind === 'required', durationMs: c.durationMs,
    ...(c.message ? { message: c.message.slice(0, 2048) } : {}),
  };
}

export class HealthOps {
  readonly #o: HealthOpsOptions;

  constructor(o: HealthOpsOptions) {
    this.#o = o;
  }

  #sysrootOptions(): SysrootOptions {
    return { booted: bootedHint(this.#o.boot), runDir: this.#o.boot.runDir, log: (line) => this.#o.log.debug(line) };
  }

  /** See the module doc. Returns the fallback (also one finished earlier in this boot), or null. */
  async afterBoot(facts: BootFacts, rebooted: boolean): Promise<FallbackFacts | null> {
    const view = bootView(this.#o.boot);
    if (view.bootedEntry === null || !view.booted) return null;
    const backend = await this.#o.backend();
    if (!rebooted && !(await backend.readState()).summary.fallback) return null;
    const sysroot = this.#o.boot.sysroot;
    const r = await checkAfterBoot(
      { backend, stateDir: this.#o.stateDir, now: this.#o.now },
      { bootedEntry: view.bootedEntry, bootId: facts.bootId, bootedCommit: view.booted.csum, failedCommit: view.bootedEntry === 1 ? view.entries[0].csum : null },
      async () => {
        const now = bootView(this.#o.boot);
        const first = now.entries[0];
        if (first && now.booted && !(first.csum === now.booted.csum && first.serial === now.booted.serial)) {
          await undeploy(sysroot, first.index, this.#sysrootOptions());
        }
      },
    );
    if (!r.fellBack) return null;
    const rec = r.record;
    return {
      from: rec.commit, to: rec.bootedCommit, reason: rec.reason, failed: rec.failed.map((f) => f.check),
      ...(rec.failed.length ? { detail: describeFailures(rec.failed) } : {}), detectedAt: Date.parse(rec.detectedAt),
    };
  }

  /** Runs the checks on the booted target and applies the verdict. */
  async runHealth(target: Target): Promise<HealthOutcome> {
    const { config } = this.#o;
    const view = bootView(this.#o.boot);
    const booted = view.booted;
    const backend = await this.#o.backend();
    let rebootRequested = false;
    const res = await runHealthAndConfirm({
      root: '/',
      layers: config.paths.healthDirs,
      defaults: config.health.defaults,
      checks: config.health.checks,
      keepGoing: config.health.keepGoing,
      ports: { backend, stateDir: this.#o.stateDir, now: this.#o.now, reboot: async () => { rebootRequested = true; } },
      boot: { bootedEntry: view.bootedEntry ?? 0, commit: booted?.csum ?? null },
      confirm: view.bootedEntry !== null,
      context: {
        osname: booted?.stateroot ?? null,
        deployment: booted ? join(this.#o.boot.sysroot, 'ostree/deploy', booted.stateroot, 'deploy', `${booted.csum}.${booted.serial}`) : null,
        ...(target.version ? { version: target.version } : {}),
      },
    });
    const v = res.verdict;
    this.#o.log.info(`health checks on ${target.commit}: ${v.healthy ? 'healthy' : 'unhealthy'}`, {
      action: res.outcome?.action ?? null, reason: res.outcome?.reason ?? null, failed: v.failed.map((f) => f.check),
    });
    return {
      healthy: v.healthy,
      checks: [...res.report.checks].filter((c) => c.kind === 'required' || c.kind === 'wanted').slice(0, 256).map(summary),
      failed: v.failed.map((f) => f.check),
      detail: describeFailures(v.failed),
      rebootRequested,
    };
  }
}
