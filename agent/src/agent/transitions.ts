/**
 * The agent's state machine as one table: for every phase, the events it
 * accepts and what each does. {@link step} looks the pair up; a pair that is
 * not in the table is a bug and throws ERR_AGENT_TRANSITION, never passes
 * silently. Events that a phase receives in normal operation but does not
 * act on (an announcement while rebooting) are in the table as explicit
 * "stay" entries with a log line. Pure: no I/O, no clock (events carry time).
 *
 * The handlers that several phases share (commands that do the same thing
 * everywhere, offers, fallbacks) are in transition-rules.ts.
 */
import { CanopyError } from '../core/errors';
import type { Effect } from './effects';
import type { AgentEvent, EventKind, EventOf } from './events';
import type { AgentState, Phase, PhaseName, Target } from './states';
import {
  ack, alwaysRows, busy, failWith, fallback, go, iso, log, offer, progress, refuseBusyCommands, rebootNow, startDownload, stay,
  startRollback, type Step,
} from './transition-rules';

export type { Step } from './transition-rules';

type PhaseOf<N extends PhaseName> = Extract<Phase, { name: N }>;
type In<N extends PhaseName> = AgentState & { phase: PhaseOf<N> };
type Row<N extends PhaseName> = { [K in EventKind]?: (s: In<N>, e: EventOf<K>) => Step };

const redeployOrFail = (s: AgentState, t: Target, e: EventOf<'started'>): Step => {
  const attempts = (t.deployAttempts ?? 0) + 1;
  if (attempts > 3) {
    return failWith(s, t, { code: 'ERR_NOT_BOOTED', message: `after ${attempts - 1} deploy attempts the device still boots ${e.bootedCommit ?? 'an unknown commit'}, not ${t.commit}`, retryable: false }, 0, e.time);
  }
  const target = { ...t, deployAttempts: attempts };
  return go(s, { name: 'deploying', target, attempt: 0 }, log('warn', `the reboot did not start ${t.commit}; deploying it again`), progress('deploying', t.commit), { kind: 'deploy', target });
};

/** Idle and failed: at rest, so offers and every command are taken up. */
const restingRows: { [K in 'announcement' | 'poll-hit' | 'cmd-check-now' | 'cmd-install' | 'cmd-rollback' | 'cmd-reboot' | 'cmd-pin']: (s: AgentState, e: EventOf<K>) => Step } = {
  announcement: (s, e) => offer(s, e, 'announcement'),
  'poll-hit': (s, e) => offer(s, e, 'poll'),
  'cmd-check-now': (s, e) => go(s, { name: 'checking', nonce: e.nonce }, ack(e.nonce, 'check-now', 'accepted'), { kind: 'check' }),
  'cmd-install': (s, e) => install(s, e),
  'cmd-rollback': (s, e) => startRollback(s, e),
  'cmd-reboot': (s, e) => rebootNow(s, e),
  'cmd-pin': (s, e) => pin(s, e),
};

/** The transition table. */
export const TABLE: { readonly [N in PhaseName]: Row<N> } = {
  idle: {
    ...alwaysRows,
    started: (s, e) => ({ state: { ...s, running: e.bootedCommit ? runningFor(s, e.bootedCommit) : s.running }, effects: [{ kind: 'publish-state' }] }),
    ...restingRows,
  },
  checking: {
    ...alwaysRows,
    started: (s) => stay(s, { kind: 'check' }),
    announcement: (s, e) => offer(s, e, 'announcement'),
    'poll-hit': (s, e) => offer(s, e, 'poll'),
    'cmd-check-now': (s, e) => stay(s, ack(e.nonce, 'check-now', 'refused', 'busy', 'a check is already running')),
    'cmd-install': (s, e) => install(s, e, true),
    'cmd-rollback': (s, e) => startRollback(s, e, true),
    'cmd-reboot': (s, e) => rebootNow(s, e, true),
    'cmd-pin': (s, e) => pin(s, e, true),
    'check-done': (s, e) => {
      const nonce = s.phase.nonce;
      const idle: AgentState = { ...s, phase: { name: 'idle' } };
      const done = nonce ? [ack(nonce, 'check-now', 'done', e.found ? undefined : 'no-update')] : [];
      if (!e.found) return { state: idle, effects: [...done, { kind: 'publish-state' }] };
      const r = offer(idle, { ...e.found, time: e.time }, 'poll');
      return { state: r.state, effects: [...done, ...r.effects] };
    },
    'check-failed': (s, e) => go(s, { name: 'idle' }, log('warn', `check failed: ${e.error.code}: ${e.error.message}`),
      ...(s.phase.nonce ? [ack(s.phase.nonce, 'check-now', 'failed', 'check-failed', e.error.message)] : [])),
  },
  downloading: {
    ...alwaysRows,
    started: (s) => stay(s, progress('downloading', s.phase.target.commit, 'resuming'), { kind: 'pull', target: s.phase.target }),
    announcement: (s, e) => offer(s, e, 'announcement'),
    'poll-hit': (s, e) => offer(s, e, 'poll'),
    'cmd-check-now': (s, e) => stay(s, ack(e.nonce, 'check-now', 'refused', 'busy', `downloading ${s.phase.target.commit}`)),
    'cmd-install': (s, e) => install(s, e, true),
    'cmd-rollback': (s, e) => startRollback(s, e, true),
    'cmd-reboot': (s, e) => stay(s, busy(e.nonce, 'reboot', s)),
    'cmd-pin': (s, e) => pin(s, e, true),
    'pull-done': (s, e) => {
      const target = s.phase.target;
      if (e.commit !== target.commit) throw illegal(s, e, `pull-done for ${e.commit} while downloading ${target.commit}`);
      return go(s, { name: 'deploying', target, attempt: 0 }, progress('deploying', target.commit), { kind: 'deploy', target });
    },
    'pull-failed': (s, e) => failWith(s, s.phase.target, e.error, s.phase.attempt, e.time),
  },
  deploying: {
    ...alwaysRows,
    ...refuseBusyCommands,
    started: (s) => stay(s, { kind: 'deploy', target: s.phase.target }),
    announcement: (s) => stay(s, log('info', 'an announcement arrived while deploying; it is looked at again after the next connect or poll')),
    'poll-hit': (s) => stay(s, log('info', 'a poll found an update while deploying; ignored for now')),
    'deploy-done': (s, e) => {
      const target = s.phase.target;
      if (e.commit !== target.commit) throw illegal(s, e, `deploy-done for ${e.commit} while deploying ${target.commit}`);
      return go(s, { name: 'staged', target }, progress('staged', target.commit), { kind: 'await-reboot-window' });
    },
    'deploy-failed': (s, e) => failWith(s, s.phase.target, e.error, s.phase.attempt, e.time),
  },
  staged: {
    ...alwaysRows,
    started: (s, e) => {
      const t = s.phase.target;
      if (!e.rebooted) return stay(s, { kind: 'deploy', target: t });
      if (e.bootedCommit === t.commit) return go({ ...s, running: runningFor(s, t.commit, t) }, { name: 'verifying', target: t }, progress('verifying', t.commit), { kind: 'run-health', target: t });
      return redeployOrFail(s, t, e);
    },
    // A deploy job runs again after a restart in this phase (it re-verifies what is on disk).
    'deploy-done': (s) => stay(s, { kind: 'await-reboot-window' }),
    'deploy-failed': (s, e) => failWith(s, s.phase.target, e.error, 0, e.time),
    announcement: (s, e) => offer(s, e, 'announcement'),
    'poll-hit': (s, e) => offer(s, e, 'poll'),
    'cmd-check-now': (s, e) => stay(s, ack(e.nonce, 'check-now', 'refused', 'busy', `${s.phase.target.commit} is staged`)),
    'cmd-install': (s, e) => install(s, e, true),
    'cmd-rollback': (s, e) => go(s, { name: 'idle' }, { kind: 'cancel-job' }, { kind: 'discard-pending', commit: s.phase.target.commit },
      ack(e.nonce, 'rollback', 'done', undefined, `discarded the staged ${s.phase.target.commit}`), { kind: 'publish-state' }),
    'cmd-reboot': (s, e) => e.allowed
      ? go(s, { name: 'rebooting', target: s.phase.target, reason: e.reason ?? 'reboot command', nonce: e.nonce }, ack(e.nonce, 'reboot', 'accepted'),
        progress('rebooting', s.phase.target.commit), { kind: 'reboot', reason: e.reason ?? 'reboot command' })
      : stay(s, ack(e.nonce, 'reboot', 'refused', 'maintenance-window', 'outside the maintenance window (force overrides it)')),
    'cmd-pin': (s, e) => pin(s, e, true),
    'reboot-window': (s) => go(s, { name: 'rebooting', target: s.phase.target, reason: `install ${s.phase.target.commit}` },
      progress('rebooting', s.phase.target.commit), { kind: 'reboot', reason: `install ${s.phase.target.commit}` }),
  },
  rebooting: {
    ...alwaysRows,
    ...refuseBusyCommands,
    started: (s, e) => {
      const p = s.phase;
      if (!e.rebooted) return stay(s, log('info', 'the reboot asked for has not happened; asking again'), { kind: 'reboot', reason: p.reason });
      const t = p.target;
      if (!t) {
        const done = p.nonce ? [ack(p.nonce, 'reboot', 'done')] : [];
        return go({ ...s, running: e.bootedCommit ? runningFor(s, e.bootedCommit) : s.running }, { name: 'idle' }, ...done, { kind: 'publish-state' });
      }
      if (e.bootedCommit === t.commit) {
        const done = p.nonce ? [ack(p.nonce, 'reboot', 'done')] : [];
        return go({ ...s, running: runningFor(s, t.commit, t) }, { name: 'verifying', target: t }, ...done, progress('verifying', t.commit), { kind: 'run-health', target: t });
      }
      return redeployOrFail(s, t, e);
    },
    announcement: (s) => stay(s, log('info', 'an announcement arrived while rebooting; ignored')),
    'poll-hit': (s) => stay(s, log('info', 'a poll found an update while rebooting; ignored')),
  },
  verifying: {
    ...alwaysRows,
    ...refuseBusyCommands,
    started: (s, e) => {
      const t = s.phase.target;
      if (e.bootedCommit === t.commit) return stay(s, progress('verifying', t.commit, 'resuming'), { kind: 'run-health', target: t });
      return failWith({ ...s, running: e.bootedCommit ? runningFor(s, e.bootedCommit) : s.running }, t,
        { code: 'ERR_NOT_BOOTED', message: `verifying ${t.commit}, but ${e.bootedCommit ?? 'an unknown commit'} is booted and no fallback was recorded`, retryable: false }, 0, e.time);
    },
    announcement: (s) => stay(s, log('info', 'an announcement arrived during the health checks; ignored')),
    'poll-hit': (s) => stay(s, log('info', 'a poll found an update during the health checks; ignored')),
    'health-pass': (s, e) => {
      const t = s.phase.target;
      const state: AgentState = {
        ...s, running: runningFor(s, t.commit, t), lastError: null,
        lastHealth: { commit: t.commit, result: 'pass', time: iso(e.time) },
      };
      return go(state, { name: 'idle' }, { kind: 'publish', event: { kind: 'health', commit: t.commit, result: 'pass', checks: e.checks } },
        progress('confirmed', t.commit), ...(t.nonce ? [ack(t.nonce, 'install', 'done')] : []), { kind: 'publish-state' });
    },
    'health-fail': (s, e) => {
      const t = s.phase.target;
      const state: AgentState = { ...s, lastHealth: { commit: t.commit, result: 'fail', time: iso(e.time), failed: e.failed } };
      const report: Effect = { kind: 'publish', event: { kind: 'health', commit: t.commit, result: 'fail', checks: e.checks } };
      if (!e.rebootRequested) {
        // No trial to fall back from (e.g. confirmed by hand meanwhile): report, keep running it.
        return go({ ...state, running: runningFor(s, t.commit, t) }, { name: 'idle' }, report, log('error', `health checks failed on ${t.commit} but there is no trial to fall back from`),
          ...(t.nonce ? [ack(t.nonce, 'install', 'failed', 'health-failed', e.detail)] : []), { kind: 'publish-state' });
      }
      const previous = s.running && s.running.commit !== t.commit ? s.running.commit : null;
      return go(state, { name: 'rolling-back', from: t.commit, to: previous, reason: 'health-failed', switched: true, detail: e.detail, nonce: t.nonce },
        report, progress('rolling-back', t.commit), { kind: 'reboot', reason: `health checks failed: ${e.failed.join(', ')}` });
    },
  },
  'rolling-back': {
    ...alwaysRows,
    ...refuseBusyCommands,
    started: (s, e) => {
      const p = s.phase;
      if (!e.rebooted) {
        return p.switched ? stay(s, { kind: 'reboot', reason: `rolling back from ${p.from}` }) : stay(s, { kind: 'rollback-deployment' });
      }
      if (e.bootedCommit !== null && e.bootedCommit !== p.from) {
        return fallback(s, { kind: 'fallback-detected', time: e.time, from: p.from, to: e.bootedCommit, reason: 'health-check', failed: [], detail: p.detail }, p.reason);
      }
      return failWith({ ...s, phase: { name: 'idle' } }, null,
        { code: 'ERR_BOOT_STATE', message: `rolled back from ${p.from}, but it is still booted`, retryable: false }, 0, e.time, p.nonce ? { nonce: p.nonce, command: 'rollback' } : undefined);
    },
    announcement: (s) => stay(s, log('info', 'an announcement arrived while rolling back; ignored')),
    'poll-hit': (s) => stay(s, log('info', 'a poll found an update while rolling back; ignored')),
    'rollback-done': (s, e) => go(s, { ...s.phase, from: e.from, to: e.to, switched: true }, progress('rolling-back', e.from), { kind: 'reboot', reason: `rollback to ${e.to}` }),
    'rollback-failed': (s, e) => failWith({ ...s, phase: { name: 'idle' } }, null, e.error, 0, e.time, s.phase.nonce ? { nonce: s.phase.nonce, command: 'rollback' } : undefined),
  },
  failed: {
    ...alwaysRows,
    started: (s) => stay(s, ...(s.phase.retryAt !== null ? [{ kind: 'schedule-retry', at: s.phase.retryAt } as const] : [])),
    ...restingRows,
    timer: (s) => {
      const p = s.phase;
      if (p.retryAt === null) throw illegal(s, { kind: 'timer' }, 'a retry timer fired for an error that is not retried');
      return go(s, { name: 'downloading', target: p.target, attempt: p.attempt + 1 }, progress('downloading', p.target.commit, `retry ${p.attempt + 1}`), { kind: 'pull', target: p.target });
    },
  },
};

function runningFor(s: AgentState, commit: string, t?: Target): AgentState['running'] {
  if (t && t.commit === commit) return { commit, ref: t.ref, ...(t.version ? { version: t.version } : {}) };
  if (s.running?.commit === commit) return s.running;
  return { commit };
}

function install(s: AgentState, e: EventOf<'cmd-install'>, cancel = false): Step {
  if (s.pinned) return stay(s, ack(e.nonce, 'install', 'refused', 'pinned', `pinned to ${s.pinned.commit}`));
  const current = 'target' in s.phase ? s.phase.target : null;
  if (s.running?.commit === e.target.commit && !current) return stay(s, ack(e.nonce, 'install', 'done', 'already-running'));
  if (current && current.commit === e.target.commit && (s.phase.name === 'downloading' || s.phase.name === 'staged')) {
    const target = { ...current, nonce: e.nonce };
    return { state: { ...s, phase: { ...s.phase, target } as Phase }, effects: [ack(e.nonce, 'install', 'accepted'), ...(current.nonce ? [ack(current.nonce, 'install', 'failed', 'superseded')] : [])] };
  }
  const superseded = current?.nonce ? [ack(current.nonce, 'install', 'failed', 'superseded')] : [];
  const r = startDownload(s, { ...e.target, nonce: e.nonce }, cancel);
  return { state: r.state, effects: [ack(e.nonce, 'install', 'accepted'), ...superseded, { kind: 'forget-rejected', commit: e.target.commit }, ...r.effects] };
}

function pin(s: AgentState, e: EventOf<'cmd-pin'>, cancel = false): Step {
  const running = s.running?.commit;
  const commit = e.commit ?? running;
  if (!commit || commit !== running) return stay(s, ack(e.nonce, 'pin', 'refused', 'not-running', `only the running commit ${running ?? '(unknown)'} can be pinned`));
  const state: AgentState = { ...s, pinned: { commit, ...(e.reason ? { reason: e.reason } : {}) } };
  const pending = 'target' in s.phase && s.phase.target ? s.phase.target.commit : null;
  const drop: Effect[] = cancel ? [{ kind: 'cancel-job' }, ...(s.phase.name === 'staged' && pending ? [{ kind: 'discard-pending', commit: pending } as const] : [])] : [];
  return go(state, cancel ? { name: 'idle' } : s.phase, ...drop, { kind: 'pin-deployment', commit, pinned: true }, ack(e.nonce, 'pin', 'done'), { kind: 'publish-state' });
}

function illegal(s: AgentState, e: Pick<AgentEvent, 'kind'>, why?: string): CanopyError {
  return new CanopyError('ERR_AGENT_TRANSITION', `no transition for event ${e.kind} in phase ${s.phase.name}${why ? `: ${why}` : ''}`, { phase: s.phase.name, event: e.kind });
}

/**
 * One step: the state after `event` and the effects to run, in order, once
 * that state is saved.
 *
 * @throws ERR_AGENT_TRANSITION when the table has no entry for the phase and
 *   the event (or the event contradicts the phase, e.g. a pull finishing for
 *   another commit).
 */
export function step(state: AgentState, event: AgentEvent): Step {
  const row = TABLE[state.phase.name] as Record<string, ((s: AgentState, e: AgentEvent) => Step) | undefined>;
  const handler = row[event.kind];
  if (!handler) throw illegal(state, event);
  return handler(state, event);
}

/** True when the table defines `event` in `phase`. */
export function accepts(phase: PhaseName, event: EventKind): boolean {
  return (TABLE[phase] as Record<string, unknown>)[event] !== undefined;
}
