/**
 * The rollout controller: watches the fleet's retained states and events
 * and the channel's retained announcement, asks {@link decideRollout} what
 * to do, and does it by publishing the next signed announcement. It holds
 * no state of its own: stop it at any moment and start it again (here or
 * elsewhere) and it carries on from the retained messages. An operator who
 * pauses, resumes or aborts from another shell is seen at once, because
 * the controller follows the retained announcement too.
 */
import { CanopyError, isCanopyError } from '../core/errors';
import { parseTimestamp, type MessageTrust, type SigningKeys } from '../channel/index';
import { ANNOUNCEMENT_TTL_SECONDS, openAnnouncement, publishAnnouncement, readAnnouncement } from './announcement-store';
import { FleetView } from './fleet-view';
import type { OperatorLink } from './operator-link';
import { decideRollout, type RolloutAction } from './rollout-decision';
import {
  completeRollout, openWave, pauseRollout, rolloutPolicy, rolloutStatus, type ControlledAnnouncement, type RolloutPolicy, type RolloutStatus,
} from './rollout-model';

export interface ControllerOptions {
  link: OperatorLink;
  channel: string;
  keys: SigningKeys;
  trust: MessageTrust;
  /** Policy values that override (and are stored over) the announcement's. */
  policy?: Partial<RolloutPolicy>;
  /** Keep running while the rollout is paused, waiting for a resume (default: return). */
  follow?: boolean;
  /** Give up after this long (ERR_TIMEOUT). */
  timeoutMs?: number;
  /** How often to re-decide without news (for the soak time); default 1000 ms. */
  tickMs?: number;
  /** The view to fill (the CLI passes one it also prints from). */
  view?: FleetView;
  now?: () => number;
  log?: (line: string) => void;
  /** Called after every decision (for live displays). */
  onDecision?: (a: ControlledAnnouncement, action: RolloutAction) => void;
  signal?: AbortSignal;
}

export interface ControllerResult {
  status: RolloutStatus;
  reason: string;
  announcement: ControlledAnnouncement;
}

const samePolicy = (a: RolloutPolicy, b: RolloutPolicy): boolean =>
  a.maxFailureRate === b.maxFailureRate && a.minSample === b.minSample && a.successThreshold === b.successThreshold && a.soakSeconds === b.soakSeconds;

/**
 * Runs the controller until the rollout completes, pauses (unless
 * `follow`) or is aborted.
 *
 * @throws ERR_ROLLOUT_STATE when the channel has no announcement;
 *   ERR_KEY_UNTRUSTED / ERR_SIGNATURE_INVALID when it is not the
 *   operator's; ERR_TIMEOUT; ERR_ABORTED when `signal` fires.
 */
export async function runRolloutController(o: ControllerOptions): Promise<ControllerResult> {
  const now = o.now ?? Date.now;
  const log = o.log ?? (() => undefined);
  const view = o.view ?? new FleetView();
  const { link, channel } = o;
  let wake: (() => void) | undefined;
  const poke = (): void => {
    wake?.();
  };
  const offState = link.onState((s) => {
    if (view.applyState(s)) poke();
  });
  const offEvent = link.onEvent((e) => {
    if (view.applyEvent(e)) poke();
  });
  let current: ControlledAnnouncement | undefined;
  let follow: { stop: () => Promise<void> } | undefined;
  let newsError: string | undefined;
  try {
    await link.watchFleet();
    const first = await readAnnouncement(link, channel, o.trust);
    if (!first) throw new CanopyError('ERR_ROLLOUT_STATE', `channel ${channel} has no announcement; publish a release first (canopy publish)`, { channel });
    current = first.announcement;
    // Follow the retained announcement: pauses and resumes from other shells.
    follow = await link.watchRetained(link.topics.announcement(channel), (bytes) => {
      if (bytes.length === 0) return;
      openAnnouncement(bytes, channel, o.trust).then((c) => {
        if (!current || parseTimestamp(c.announcement.created) >= parseTimestamp(current.created)) {
          current = c.announcement;
          poke();
        }
      }, (e) => {
        newsError = isCanopyError(e) ? e.message : String(e);
        poke();
      });
    });

    const publish = async (next: ControlledAnnouncement): Promise<void> => {
      current = await publishAnnouncement(link, next, o.keys, { now: now(), previous: current });
    };
    const wanted = rolloutPolicy(current, o.policy);
    if (rolloutStatus(current) === 'running' && !samePolicy(wanted, rolloutPolicy(current))) {
      await publish({ ...current, rollout: { ...current.rollout, control: { ...(current.rollout.control ?? { status: 'running' }), policy: wanted } } });
      log(`policy stored in the announcement: max failure rate ${wanted.maxFailureRate * 100}%, min sample ${wanted.minSample}, success threshold ${wanted.successThreshold * 100}%, soak ${wanted.soakSeconds} s`);
    }

    const started = now();
    let lastReason = '';
    for (;;) {
      if (o.signal?.aborted) throw new CanopyError('ERR_ABORTED', 'the rollout controller was stopped');
      if (newsError) {
        log(`ignored a retained announcement: ${newsError}`);
        newsError = undefined;
      }
      const a: ControlledAnnouncement = current;
      const action = decideRollout(a, view.states(), now());
      o.onDecision?.(a, action);
      if (action.kind === 'open-wave') {
        await publish(openWave(a, action.index, now(), action.reason));
        log(action.reason);
        continue;
      }
      if (action.kind === 'pause') {
        await publish(pauseRollout(a, now(), action.reason));
        log(`paused: ${action.reason}`);
        if (!o.follow) return { status: 'paused', reason: action.reason, announcement: current };
        continue;
      }
      if (action.kind === 'complete') {
        await publish(completeRollout(a, now(), action.reason));
        log(`complete: ${action.reason}`);
        return { status: 'complete', reason: action.reason, announcement: current };
      }
      const status = rolloutStatus(a);
      if (status === 'complete' || status === 'aborted' || (status === 'paused' && !o.follow)) {
        return { status, reason: a.rollout.control?.reason ?? status, announcement: a };
      }
      if (action.reason !== lastReason) {
        log(action.reason);
        lastReason = action.reason;
      }
      const left = parseTimestamp(a.expires) - now();
      if (left < (ANNOUNCEMENT_TTL_SECONDS * 1000) / 4) {
        await publish(a);
        log('re-signed the announcement before it expires');
        continue;
      }
      if (o.timeoutMs !== undefined && now() - started > o.timeoutMs) {
        throw new CanopyError('ERR_TIMEOUT', `the rollout did not finish within ${Math.round(o.timeoutMs / 1000)} s: ${action.reason}`);
      }
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(t);
          o.signal?.removeEventListener('abort', done);
          resolve();
        };
        const t = setTimeout(done, o.tickMs ?? 1000);
        o.signal?.addEventListener('abort', done, { once: true });
        wake = () => {
          wake = undefined;
          setTimeout(done, 50); // let a burst of states land before deciding
        };
      });
      wake = undefined;
    }
  } finally {
    offState();
    offEvent();
    await follow?.stop();
  }
}
