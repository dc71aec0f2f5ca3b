/**
 * `canopy rollout start|status|pause|resume|abort`: the staged rollout of
 * a channel's announced release. Everything a rollout is lives in the
 * channel's retained announcement (fleet/rollout-model.ts), so these
 * commands can run from any machine that holds the operator key.
 */
import { CanopyError } from '../core/errors';
import {
  abortRollout, formatRolloutReport, FleetView, newRollout, operatorTrust, pauseRollout, publishAnnouncement, readAnnouncement, resumeRollout,
  rolloutReport, rolloutStatus, runRolloutController, type ControlledAnnouncement, type OperatorLink,
} from '../fleet/index';
import { intOption, usageError } from './cli-args';
import { defineCommand, type RunContext } from './command';
import { defineGroup } from './command-group';
import {
  BROKER_OPTIONS, JOURNAL_OPTIONS, KEY_OPTIONS, TRUST_OPTIONS, connectBroker, fleetName, journalPath, loadJournal, nameOption, requireKeys,
  saveJournal, signingKeys, trustedKeyFiles,
} from './operator-options';
import { POLICY_OPTIONS, policyFrom } from './rollout-options';

const CHANNEL = { channel: { type: 'string', value: 'NAME', help: 'The channel whose rollout this is' } } as const;

async function withLink<T>(ctx: RunContext, command: string, values: object, fn: (link: OperatorLink) => Promise<T>): Promise<T> {
  const link = await connectBroker(ctx, command, values);
  try {
    return await fn(link);
  } finally {
    await link.close();
  }
}

async function current(link: OperatorLink, channel: string, trust: Awaited<ReturnType<typeof operatorTrust>>): Promise<ControlledAnnouncement> {
  const c = await readAnnouncement(link, channel, trust);
  if (!c) throw new CanopyError('ERR_ROLLOUT_STATE', `channel ${channel} has no announcement; publish a release first (canopy publish)`, { channel });
  return c.announcement;
}

const stamp = (ctx: RunContext): string => new Date(ctx.io.now()).toISOString().slice(11, 19);

const start = defineCommand({
  name: 'rollout start',
  summary: 'Run the controller: open waves as devices prove healthy, pause on failures',
  usage: '',
  description: 'Watches the devices\' retained states and events. The next wave opens when enough devices of the\n'
    + 'open waves are healthy (--success-threshold) and the newest verdict is --soak seconds old; the\n'
    + 'rollout pauses itself when more than --max-failure-rate of a wave\'s settled devices failed. The\n'
    + 'policy given is stored in the announcement. Stop it at any time; run it again to carry on.\n'
    + 'Exits 0 when the rollout completes, 1 when it paused (or with --follow, only when complete).',
  options: {
    ...CHANNEL,
    follow: { type: 'boolean', help: 'Keep running while paused, waiting for canopy rollout resume' },
    timeout: { type: 'string', value: 'SECONDS', help: 'Give up after this long' },
    ...POLICY_OPTIONS, ...KEY_OPTIONS, ...TRUST_OPTIONS, ...BROKER_OPTIONS, ...JOURNAL_OPTIONS,
  },
  operands: [0, 0],
  repo: false,
}, async (ctx, { values }) => {
  const channel = nameOption('rollout start', 'channel', values.channel);
  const keys = requireKeys(ctx, 'rollout start', values);
  const policy = policyFrom(values);
  const timeout = intOption('rollout start', 'timeout', values.timeout, 1);
  const fleet = fleetName(ctx, 'rollout start', values);
  const trust = await operatorTrust(keys, trustedKeyFiles(ctx, values));
  const view = new FleetView();
  const journal = journalPath(ctx, fleet, values);
  loadJournal(ctx, view, fleet, journal);
  const stop = new AbortController();
  const onSignal = (): void => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const r = await withLink(ctx, 'rollout start', values, (link) => runRolloutController({
      link, channel, keys, trust, policy, follow: values.follow, view, signal: stop.signal,
      ...(timeout !== undefined ? { timeoutMs: timeout * 1000 } : {}),
      log: (line) => ctx.out.text(`${stamp(ctx)} ${line}`),
    }));
    const report = rolloutReport(r.announcement, view.states(), ctx.io.now());
    if (r.status !== 'complete') {
      if (!ctx.json) ctx.out.text(formatRolloutReport(report));
      throw new CanopyError(r.status === 'paused' ? 'ERR_ROLLOUT_PAUSED' : 'ERR_ROLLOUT_STATE', `rollout ${report.rolloutId} is ${r.status}: ${r.reason}`, { channel, status: r.status, rolloutId: report.rolloutId });
    }
    ctx.out.result(report, () => formatRolloutReport(report));
  } catch (e) {
    if (stop.signal.aborted) throw new CanopyError('ERR_ABORTED', 'the controller stopped; the rollout\'s state is in the retained announcement: run canopy rollout start again to carry on');
    throw e;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    saveJournal(ctx, view, fleet, journal);
  }
});

const status = defineCommand({
  name: 'rollout status',
  summary: 'Per-wave counts (targeted, updated, healthy, failed, rolled back) and what happens next',
  usage: '',
  options: { ...CHANNEL, ...KEY_OPTIONS, ...TRUST_OPTIONS, ...BROKER_OPTIONS },
  operands: [0, 0],
  repo: false,
}, async (ctx, { values }) => {
  const channel = nameOption('rollout status', 'channel', values.channel);
  const trust = await operatorTrust(signingKeys(ctx, values), trustedKeyFiles(ctx, values));
  if (!trust.ed25519 && !trust.openpgp) throw usageError('rollout status', 'the operator\'s key (--sign-key) or --trusted-keys is needed to check the announcement');
  const report = await withLink(ctx, 'rollout status', values, async (link) => {
    const view = new FleetView();
    link.onState((s) => view.applyState(s));
    link.onEvent((e) => view.applyEvent(e));
    await link.watchFleet();
    const a = await current(link, channel, trust);
    return rolloutReport(a, view.states(), ctx.io.now());
  });
  ctx.out.result(report, () => formatRolloutReport(report));
});

function changeCommand(
  word: 'pause' | 'resume' | 'abort',
  summary: string,
  extra: Record<string, { type: 'boolean' | 'string'; value?: string; help: string }>,
  change: (a: ControlledAnnouncement, now: number, reason: string, values: Record<string, unknown>) => ControlledAnnouncement[],
) {
  return defineCommand({
    name: `rollout ${word}`,
    summary,
    usage: '',
    options: { ...CHANNEL, reason: { type: 'string', value: 'TEXT', help: 'Why (kept in the announcement)' }, ...extra, ...KEY_OPTIONS, ...TRUST_OPTIONS, ...BROKER_OPTIONS },
    operands: [0, 0],
    repo: false,
  }, async (ctx, { values }) => {
    const channel = nameOption(`rollout ${word}`, 'channel', values.channel);
    const keys = requireKeys(ctx, `rollout ${word}`, values);
    const trust = await operatorTrust(keys, trustedKeyFiles(ctx, values));
    const published = await withLink(ctx, `rollout ${word}`, values, async (link) => {
      let prev = await current(link, channel, trust);
      const now = ctx.io.now();
      const out: ControlledAnnouncement[] = [];
      for (const next of change(prev, now, values.reason ?? `${word} by the operator`, values as Record<string, unknown>)) {
        prev = await publishAnnouncement(link, next, keys, { now, previous: prev });
        out.push(prev);
      }
      return out;
    });
    const last = published[published.length - 1];
    const result = { channel, commit: last.commit, version: last.version, rolloutId: last.rollout.id, status: rolloutStatus(last), reason: last.rollout.control?.reason, waves: last.rollout.waves };
    ctx.out.result(result, () => `channel ${channel}: rollout ${result.rolloutId} of ${result.version} is ${result.status}${result.reason ? ` (${result.reason})` : ''}`);
  });
}

const pause = changeCommand('pause', 'Hold the rollout: close the open waves (devices on the release keep it)', {}, (a, now, reason) => [pauseRollout(a, now, reason)]);
const resume = changeCommand('resume', 'Open the paused waves again', {}, (a, now, reason) => [resumeRollout(a, now, reason)]);
const abort = changeCommand('abort', 'Stop the rollout for good; --revert offers the previous release again', {
  revert: { type: 'boolean', help: 'Then announce the release the channel offered before, to every device' },
}, (a, now, reason, values) => {
  const aborted = abortRollout(a, now, reason);
  if (!values.revert) return [aborted];
  const prev = a.rollout.control?.previous;
  if (!prev) throw new CanopyError('ERR_ROLLOUT_STATE', `the announcement does not record what channel ${a.channel} offered before; publish that release again instead`);
  const version = prev.version ?? prev.commit.slice(0, 12);
  const id = `${a.channel}-revert-${prev.commit.slice(0, 8)}-${Math.floor(now / 1000)}`;
  const reverted: ControlledAnnouncement = {
    ...a, ref: prev.ref ?? a.ref, commit: prev.commit, version,
    rollout: newRollout(id, [{ name: 'all', percent: 100, open: true }], a.rollout.control?.policy ?? { maxFailureRate: 0.1, minSample: 3, successThreshold: 1, soakSeconds: 0 }, now, { allOpen: true, previous: { commit: a.commit, version: a.version, ref: a.ref } }),
  };
  reverted.rollout.control = { ...reverted.rollout.control!, reason: `revert of ${a.version}: ${reason}` };
  return [aborted, reverted];
});

export const rolloutCommand = defineGroup('rollout', 'Staged rollouts of a channel\'s release, gated by the fleet\'s health', [start, status, pause, resume, abort]);
