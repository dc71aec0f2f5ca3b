/**
 * Turns what the channel delivers (verified announcements and commands,
 * ref updates from polling) into state-machine events. This is where the
 * facts an event needs are looked up: the device's rollout wave, whether
 * the commit was rejected here, the commit a ref points to, the previous
 * deployment, whether the reboot policy allows a reboot now. A command that
 * cannot become an event (an `install` of a ref the server does not have)
 * is refused here with an `ack`.
 */
import { wavePlacement, type AnnouncementMessage, type CommandMessage, type EventBody, type RefUpdate, type StateReport } from '../channel/index';
import { isRejected } from '../health/index';
import type { AgentEvent } from './events';
import type { Logger } from './logger';
import type { Target } from './states';

export interface InboundOptions {
  deviceId: string;
  /** The ref the device follows (an install command without a ref means this one). */
  ref: string;
  healthStateDir: string;
  now: () => number;
  dispatch: (e: AgentEvent) => void;
  publishEvent: (e: EventBody) => Promise<boolean>;
  /** The commit a ref of the remote points to now (reads the summary). */
  resolveRef: (ref: string) => Promise<string>;
  /** The commit a rollback would return to. */
  previousCommit: () => string | null;
  /** The reboot policy allows a reboot now (`force` ignores a maintenance window). */
  rebootAllowed: (force: boolean) => boolean;
  /** Called when the device's place in a rollout changes. */
  onRollout: (r: StateReport['rollout']) => void;
  log: Logger;
}

export class Inbound {
  readonly #o: InboundOptions;

  constructor(o: InboundOptions) {
    this.#o = o;
  }

  async #rejected(commit: string): Promise<boolean> {
    try {
      return await isRejected(this.#o.healthStateDir, commit);
    } catch (e) {
      // An unreadable list must not let a failed commit back in.
      this.#o.log.error(`cannot read the rejected commits: ${(e as Error).message}; treating ${commit} as rejected`);
      return true;
    }
  }

  /** A verified announcement. */
  async announcement(m: AnnouncementMessage): Promise<void> {
    const a = m.announcement;
    const place = wavePlacement(a, this.#o.deviceId);
    this.#o.onRollout({ id: a.rollout.id, bucket: place.bucket, wave: place.wave?.name ?? null });
    this.#o.log.info(`announcement: ${a.channel} offers ${a.commit} (${a.version})`, { bucket: place.bucket, wave: place.wave?.name ?? null, open: place.open });
    const target: Target = { commit: a.commit, ref: a.ref, version: a.version, source: 'announcement', allowDowngrade: true };
    this.#o.dispatch({ kind: 'announcement', time: this.#o.now(), target, waveOpen: place.open, rejected: await this.#rejected(a.commit) });
  }

  /** The followed ref moved on the server (polling). */
  async refUpdate(u: RefUpdate): Promise<void> {
    this.#o.log.info(`poll: ${u.ref} is now ${u.commit}`, { verified: u.verified });
    const target: Target = { commit: u.commit, ref: u.ref, source: 'poll' };
    this.#o.dispatch({ kind: 'poll-hit', time: this.#o.now(), target, waveOpen: true, rejected: await this.#rejected(u.commit) });
  }

  /** A verified command for this device. */
  async command(m: CommandMessage): Promise<void> {
    const c = m.command;
    const time = this.#o.now();
    const nonce = c.nonce;
    this.#o.log.info(`command ${c.kind}`, { nonce, signer: m.signer.key ?? null });
    switch (c.kind) {
      case 'check-now':
        return this.#o.dispatch({ kind: 'cmd-check-now', time, nonce });
      case 'install': {
        const ref = c.args.ref ?? this.#o.ref;
        let commit = c.args.commit;
        if (commit === undefined) {
          try {
            commit = await this.#o.resolveRef(ref);
          } catch (e) {
            await this.#refuse(nonce, 'install', 'unknown-ref', `cannot resolve ${ref}: ${(e as Error).message}`);
            return;
          }
        }
        // Naming the commit in a signed command allows going back to an older one; a ref's latest does not.
        const target: Target = { commit, ref, source: 'command', allowDowngrade: c.args.commit !== undefined, ...(c.args.version ? { version: c.args.version } : {}) };
        return this.#o.dispatch({ kind: 'cmd-install', time, nonce, target });
      }
      case 'rollback': {
        let previous: string | null = null;
        try {
          previous = this.#o.previousCommit();
        } catch (e) {
          this.#o.log.warn(`cannot read the deployments: ${(e as Error).message}`);
        }
        return this.#o.dispatch({ kind: 'cmd-rollback', time, nonce, previous, ...(c.args?.reason ? { reason: c.args.reason } : {}) });
      }
      case 'reboot':
        return this.#o.dispatch({ kind: 'cmd-reboot', time, nonce, allowed: this.#o.rebootAllowed(c.args?.force === true), ...(c.args?.reason ? { reason: c.args.reason } : {}) });
      case 'pin':
        return this.#o.dispatch({ kind: 'cmd-pin', time, nonce, ...(c.args?.commit ? { commit: c.args.commit } : {}), ...(c.args?.reason ? { reason: c.args.reason } : {}) });
      case 'unpin':
        return this.#o.dispatch({ kind: 'cmd-unpin', time, nonce });
      case 'report-inventory':
        return this.#o.dispatch({ kind: 'cmd-report-inventory', time, nonce });
      case 'set-log-level':
        return this.#o.dispatch({ kind: 'cmd-set-log-level', time, nonce, level: c.args.level, ...(c.args.durationSeconds !== undefined ? { durationSeconds: c.args.durationSeconds } : {}) });
      default:
        await this.#refuse(nonce, (c as { kind: string }).kind, 'malformed', 'unknown command kind');
    }
  }

  async #refuse(nonce: string, command: string, reason: string, message: string): Promise<void> {
    this.#o.log.warn(`refused ${command}: ${message}`, { nonce });
    await this.#o.publishEvent({ kind: 'ack', nonce, command, status: 'refused', reason, message: message.slice(0, 2048) }).catch(() => false);
  }
}
