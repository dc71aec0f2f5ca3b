/**
 * The thin executor around the transition table. Events are handled one at
 * a time, in arrival order: `step` gives the next state and its effects; the
 * state is saved durably first, then the effects run in order. Jobs (pull,
 * deploy, health, check, rollback) run in the background and come back as
 * events; a cancelled job's answer is dropped. Timers (retry, reboot
 * window) belong to the phase that set them and are cleared when it ends.
 *
 * {@link Runner.start} is the resume logic: load the saved state (a bad
 * file is kept aside and the agent starts from idle), read the boot facts,
 * let health/after-boot detect and finish a boot-loader fallback (delivered
 * as `fallback-detected`), then deliver `started` with whether a reboot
 * happened since the state was saved (the boot id changed). The table
 * decides from there: a download resumes, a staged deployment is verified
 * again, a reboot that happened moves to verifying, one that did not is
 * asked for again.
 */
import { isCanopyError } from '../core/errors';
import type { StateReport } from '../channel/index';
import { JOB_EFFECTS, type Effect } from './effects';
import type { AgentEvent, Offer } from './events';
import type { StateStore } from './persist';
import type { AgentPorts, HealthOutcome } from './ports';
import { initialState, pendingOf, type AgentError, type AgentState, type PhaseName } from './states';
import { step } from './transitions';

export interface RunnerOptions {
  /** Debug aid: after saving a state in this phase, stop before its effects and wait (until killed). */
  holdIn?: PhaseName;
  /** Shortest time between two download progress events, ms (default 2000). */
  progressIntervalMs?: number;
}

/** Codes of errors a later attempt cannot fix by itself. */
const PERMANENT = new Set([
  'ERR_SIGNATURE_MISSING', 'ERR_SIGNATURE_INVALID', 'ERR_KEY_UNTRUSTED', 'ERR_KEY_REVOKED', 'ERR_KEY_EXPIRED', 'ERR_DOWNGRADE',
  'ERR_REF_BINDING', 'ERR_CONFIG_INVALID', 'ERR_REPO_MODE', 'ERR_KERNEL_NOT_FOUND', 'ERR_UNSAFE_NAME', 'ERR_FILE_TYPE',
  'ERR_BUDGET_EXCEEDED', 'ERR_SYSROOT_INVALID', 'ERR_STATEROOT_NOT_FOUND', 'ERR_ETC_MERGE_CONFLICT', 'ERR_BOOT_STATE',
]);

/** An error as the state records it. */
export function agentError(e: unknown): AgentError {
  if (isCanopyError(e)) {
    const transient = (e.details as Record<string, unknown> | undefined)?.transient;
    return { code: e.code, message: e.message.slice(0, 1500), retryable: transient === false ? false : !PERMANENT.has(e.code) };
  }
  return { code: 'ERR_INTERNAL', message: String((e as Error)?.message ?? e).slice(0, 1500), retryable: true };
}

/** Wait before asking again for a reboot that failed (e.g. `systemctl reboot` refused). */
export const REBOOT_RETRY_MS = 60_000;

interface Queued {
  event: AgentEvent;
  /** Set for a job's answer: dropped unless that job is still the current one. */
  job?: number;
}

export class Runner {
  readonly #store: StateStore;
  readonly #ports: AgentPorts;
  readonly #opts: RunnerOptions;
  #state: AgentState = initialState();
  #queue: Queued[] = [];
  #draining: Promise<void> | undefined;
  #job: { id: number; ctl: AbortController } | undefined;
  #jobs = 0;
  #timers = new Map<NodeJS.Timeout, number>();
  #bootId: string | null = null;
  #lastProgress = 0;
  #stopped = false;
  #idle: Array<() => void> = [];
  #hold: NodeJS.Timeout | undefined;

  constructor(store: StateStore, ports: AgentPorts, opts: RunnerOptions = {}) {
    this.#store = store;
    this.#ports = ports;
    this.#opts = opts;
  }

  /** The current state (a copy is not made: do not change it). */
  get state(): AgentState {
    return this.#state;
  }

  /** Loads the saved state and resumes (see the module doc). */
  async start(): Promise<void> {
    const log = this.#ports.log;
    try {
      this.#state = this.#store.load() ?? initialState();
    } catch (e) {
      const kept = this.#store.quarantine(this.#ports.now());
      log.error(`cannot use the saved agent state; starting from idle${kept ? ` (kept as ${kept})` : ''}`, { code: isCanopyError(e) ? e.code : 'ERR_IO', error: (e as Error).message });
      this.#state = initialState();
    }
    const facts = await this.#ports.boot();
    const rebooted = this.#state.bootId !== null && this.#state.bootId !== facts.bootId;
    this.#bootId = facts.bootId;
    log.info('agent state loaded', { phase: this.#state.phase.name, rebooted, booted: facts.bootedCommit });
    const fb = await this.#ports.afterBoot(facts, rebooted || this.#state.bootId === null);
    const seen = fb?.detectedAt !== undefined && this.#state.lastRollback?.time === new Date(fb.detectedAt).toISOString();
    if (fb && !seen) {
      const { detectedAt, ...rest } = fb;
      this.dispatch({ kind: 'fallback-detected', time: detectedAt ?? this.#ports.now(), ...rest });
    }
    this.dispatch({ kind: 'started', time: this.#ports.now(), bootedCommit: facts.bootedCommit, rebooted });
    await this.settled();
  }

  /** Queues an event. */
  dispatch(event: AgentEvent): void {
    this.#enqueue({ event });
  }

  /** Resolves once the queue is empty. */
  settled(): Promise<void> {
    if (!this.#draining && this.#queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /** True while a job runs, an event waits, or a timer is due within a second. */
  get busy(): boolean {
    const soon = this.#ports.now() + 1000;
    return this.#job !== undefined || this.#queue.length > 0 || this.#draining !== undefined || [...this.#timers.values()].some((at) => at <= soon);
  }

  /** Resolves once the runner is not {@link busy} (a failed attempt's later retry does not count). */
  async quiet(): Promise<void> {
    while (!this.#stopped) {
      await this.settled();
      if (!this.busy) return;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Stops: cancels the job and the timers; queued events are dropped. */
  stop(): void {
    this.#stopped = true;
    clearInterval(this.#hold);
    this.#cancelJob();
    this.#clearTimers();
    this.#queue = [];
  }

  /** The state document for the channel. */
  report(): StateReport {
    const s = this.#state;
    return {
      phase: s.phase.name,
      running: s.running,
      pending: pendingOf(s.phase),
      rollout: this.#ports.rollout() ?? null,
      pinned: s.pinned,
      lastHealth: s.lastHealth,
      lastRollback: s.lastRollback,
    };
  }

  #enqueue(q: Queued): void {
    if (this.#stopped) return;
    this.#queue.push(q);
    this.#draining ??= this.#drain().finally(() => {
      this.#draining = undefined;
      for (const r of this.#idle.splice(0)) r();
    });
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0 && !this.#stopped) {
      const q = this.#queue.shift()!;
      if (q.job !== undefined && q.job !== this.#job?.id) continue;
      if (q.job !== undefined) this.#job = undefined;
      await this.#handle(q.event);
    }
  }

  async #handle(event: AgentEvent): Promise<void> {
    const log = this.#ports.log;
    let next: AgentState;
    let effects: Effect[];
    try {
      ({ state: next, effects } = step(this.#state, event));
    } catch (e) {
      log.error(`state machine: ${(e as Error).message}`, { code: isCanopyError(e) ? e.code : 'ERR_INTERNAL', phase: this.#state.phase.name, event: event.kind });
      return;
    }
    next = { ...next, bootId: this.#bootId };
    const phaseChanged = JSON.stringify(next.phase) !== JSON.stringify(this.#state.phase);
    if (phaseChanged) this.#clearTimers();
    try {
      this.#store.save(next);
    } catch (e) {
      // Without a saved state no effect may run: a reboot would lose what it was for.
      log.error(`cannot save the agent state; ${event.kind} is not acted on`, { code: isCanopyError(e) ? e.code : 'ERR_IO', error: (e as Error).message });
      return;
    }
    if (phaseChanged) log.info(`${this.#state.phase.name} -> ${next.phase.name}`, { event: event.kind });
    this.#state = next;
    if (this.#opts.holdIn === next.phase.name) {
      log.warn(`holding in phase ${next.phase.name} before its effects (--hold-in)`, { effects: effects.map((e) => e.kind) });
      this.#stopped = true;
      // Nothing else may be left to keep the process alive while it waits to be killed.
      this.#hold = setInterval(() => undefined, 1 << 30);
      await new Promise<never>(() => undefined);
    }
    for (const effect of effects) {
      try {
        await this.#run(effect);
      } catch (e) {
        log.error(`effect ${effect.kind} failed: ${(e as Error).message}`, { code: isCanopyError(e) ? e.code : 'ERR_INTERNAL' });
      }
    }
  }

  #startJob(run: (signal: AbortSignal) => Promise<AgentEvent>): void {
    this.#cancelJob();
    const job = { id: ++this.#jobs, ctl: new AbortController() };
    this.#job = job;
    run(job.ctl.signal).then(
      (event) => this.#enqueue({ event, job: job.id }),
      (e) => {
        this.#ports.log.error(`job failed unexpectedly: ${(e as Error).message}`);
      },
    );
  }

  #cancelJob(): void {
    this.#job?.ctl.abort(new Error('cancelled by the agent'));
    this.#job = undefined;
  }

  #clearTimers(): void {
    for (const t of this.#timers.keys()) clearTimeout(t);
    this.#timers.clear();
  }

  #after(ms: number, event: () => AgentEvent): void {
    const delay = Math.max(0, Math.min(ms, 2 ** 31 - 1));
    const t = setTimeout(() => {
      this.#timers.delete(t);
      this.dispatch(event());
    }, delay);
    this.#timers.set(t, this.#ports.now() + delay);
  }

  async #run(e: Effect): Promise<void> {
    const p = this.#ports;
    const now = (): number => p.now();
    if (JOB_EFFECTS.has(e.kind)) return this.#runJob(e);
    switch (e.kind) {
      case 'publish-state':
        void p.publishState(this.report()).catch((err) => p.log.warn(`state not published: ${(err as Error).message}`));
        return;
      case 'publish':
        void p.publishEvent(e.event).catch((err) => p.log.warn(`event not published: ${(err as Error).message}`));
        return;
      case 'ack':
        p.log.info(`command ${e.command} ${e.status}${e.reason ? ` (${e.reason})` : ''}`, { nonce: e.nonce, message: e.message });
        void p.publishEvent({ kind: 'ack', nonce: e.nonce, command: e.command, status: e.status, ...(e.reason ? { reason: e.reason } : {}), ...(e.message ? { message: e.message } : {}) })
          .catch((err) => p.log.warn(`ack not published: ${(err as Error).message}`));
        return;
      case 'log':
        p.log.log(e.level, e.message, e.fields);
        return;
      case 'cancel-job':
        this.#cancelJob();
        return;
      case 'discard-pending':
        await p.discardPending(e.commit);
        return;
      case 'await-reboot-window': {
        const delay = p.rebootDelay();
        if (delay === null) {
          p.log.info('the update is staged; the reboot policy is manual: waiting for a reboot command');
          return;
        }
        if (delay > 0) p.log.info(`the update is staged; rebooting in the maintenance window (in ${Math.round(delay / 1000)} s)`);
        this.#after(delay, () => ({ kind: 'reboot-window', time: now() }));
        return;
      }
      case 'reboot':
        p.log.warn(`rebooting: ${e.reason}`);
        try {
          await p.reboot(e.reason);
        } catch (err) {
          // The phase (saved) still says a reboot is due: ask again while it does.
          p.log.error(`the reboot failed: ${(err as Error).message}; asking again in ${REBOOT_RETRY_MS / 1000} s`, { code: isCanopyError(err) ? err.code : 'ERR_INTERNAL' });
          const t = setTimeout(() => {
            this.#timers.delete(t);
            if (!this.#stopped) void this.#run(e).catch(() => undefined);
          }, REBOOT_RETRY_MS);
          this.#timers.set(t, now() + REBOOT_RETRY_MS);
        }
        return;
      case 'schedule-retry':
        p.log.info(`retrying in ${Math.round((e.at - now()) / 1000)} s`);
        this.#after(e.at - now(), () => ({ kind: 'timer', time: now() }));
        return;
      case 'pin-deployment':
        await p.pinDeployment(e.commit, e.pinned);
        return;
      case 'forget-rejected':
        await p.forgetRejected(e.commit);
        return;
      case 'reject-commit':
        await p.rejectCommit(e.commit, e.reason);
        return;
      case 'set-log-level':
        p.setLogLevel(e.level, e.durationSeconds);
        return;
      case 'report-inventory': {
        const inv = await p.inventory();
        // `inventory` is an event kind of its own; receivers ignore kinds they do not know.
        void p.publishEvent({ kind: 'inventory', ...inv } as never).catch((err) => p.log.warn(`inventory not published: ${(err as Error).message}`));
        return;
      }
      default:
        throw new Error(`unhandled effect ${(e as Effect).kind}`);
    }
  }

  #runJob(e: Effect): void {
    const p = this.#ports;
    const now = (): number => p.now();
    switch (e.kind) {
      case 'check':
        return this.#startJob(async (signal) => {
          try {
            const found: Offer | null = await p.check(signal);
            return { kind: 'check-done', time: now(), found };
          } catch (err) {
            return { kind: 'check-failed', time: now(), error: agentError(err) };
          }
        });
      case 'pull':
        return this.#startJob(async (signal) => {
          try {
            await p.pull(e.target, signal, (pr) => this.#progress(e.target.commit, pr));
            return { kind: 'pull-done', time: now(), commit: e.target.commit };
          } catch (err) {
            return { kind: 'pull-failed', time: now(), error: agentError(err) };
          }
        });
      case 'deploy':
        return this.#startJob(async (signal) => {
          try {
            await p.deploy(e.target, signal);
            return { kind: 'deploy-done', time: now(), commit: e.target.commit };
          } catch (err) {
            return { kind: 'deploy-failed', time: now(), error: agentError(err) };
          }
        });
      case 'run-health':
        return this.#startJob(async () => {
          let o: HealthOutcome;
          try {
            o = await p.runHealth(e.target);
          } catch (err) {
            const ae = agentError(err);
            o = { healthy: false, checks: [], failed: [], detail: `${ae.code}: ${ae.message}`, rebootRequested: false };
            p.log.error(`the health step failed: ${ae.code}: ${ae.message}`);
          }
          return o.healthy
            ? { kind: 'health-pass', time: now(), commit: e.target.commit, checks: o.checks }
            : { kind: 'health-fail', time: now(), commit: e.target.commit, checks: o.checks, failed: o.failed, detail: o.detail, rebootRequested: o.rebootRequested };
        });
      case 'rollback-deployment':
        return this.#startJob(async () => {
          try {
            const r = await p.rollbackDeployment();
            return { kind: 'rollback-done', time: now(), ...r };
          } catch (err) {
            return { kind: 'rollback-failed', time: now(), error: agentError(err) };
          }
        });
      default:
        throw new Error(`${e.kind} is not a job`);
    }
  }

  #progress(commit: string, pr: { phase: string; bytes: number; objectsDone: number; objectsTotal: number }): void {
    const p = this.#ports;
    const t = p.now();
    const done = pr.phase === 'finishing';
    if (!done && t - this.#lastProgress < (this.#opts.progressIntervalMs ?? 2000)) return;
    this.#lastProgress = t;
    p.log.debug('pull progress', { commit, ...pr });
    void p.publishEvent({
      kind: 'progress', phase: 'downloading', commit, done: pr.objectsDone, total: Math.max(pr.objectsTotal, pr.objectsDone), unit: 'objects',
      message: `${pr.phase}: ${pr.bytes} bytes received`,
    }).catch(() => undefined);
  }
}
