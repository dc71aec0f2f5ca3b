/**
 * MQTT first, polling as the fallback: the poll channel runs only while
 * the MQTT channel has been without a connection for longer than a grace
 * period, and stops again once MQTT is back. Announcements, commands and
 * rejections come from MQTT; ref updates from polling; state and events go
 * to MQTT (which queues them while it is down).
 */
import type {
  AnnouncementMessage, Channel, ChannelStatus, CommandMessage, RefUpdate, RejectedMessage, StateReport, Unsubscribe,
} from './channel';
import type { EventBody } from './messages';

export interface FallbackChannelOptions {
  /** How long MQTT may be down before polling starts, ms (default 60000). */
  graceMs?: number;
}

export class FallbackChannel implements Channel {
  readonly #primary: Channel;
  readonly #poll: Channel;
  readonly #graceMs: number;
  #timer: NodeJS.Timeout | undefined;
  #polling = false;
  #running = false;
  #unsub: Unsubscribe | undefined;

  constructor(primary: Channel, poll: Channel, opts: FallbackChannelOptions = {}) {
    this.#primary = primary;
    this.#poll = poll;
    this.#graceMs = opts.graceMs ?? 60_000;
  }

  /** True while the poll channel is running. */
  get polling(): boolean {
    return this.#polling;
  }

  async start(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    this.#unsub = this.#primary.onStatus((s) => this.#onPrimary(s));
    this.#armFallback();
    await this.#primary.start();
  }

  async stop(): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#unsub?.();
    this.#polling = false;
    await Promise.all([this.#poll.stop(), this.#primary.stop()]);
  }

  #onPrimary(s: ChannelStatus): void {
    if (!this.#running) return;
    if (s.state === 'connected') {
      clearTimeout(this.#timer);
      this.#timer = undefined;
      if (this.#polling) {
        this.#polling = false;
        void this.#poll.stop();
      }
    } else if (s.state === 'disconnected' || s.state === 'connecting') {
      this.#armFallback();
    }
  }

  #armFallback(): void {
    if (this.#polling || this.#timer) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (!this.#running) return;
      this.#polling = true;
      void this.#poll.start();
    }, this.#graceMs);
  }

  onAnnouncement(cb: (m: AnnouncementMessage) => void): Unsubscribe {
    return this.#primary.onAnnouncement(cb);
  }

  onCommand(cb: (m: CommandMessage) => void): Unsubscribe {
    return this.#primary.onCommand(cb);
  }

  onRefUpdate(cb: (u: RefUpdate) => void): Unsubscribe {
    const a = this.#primary.onRefUpdate(cb);
    const b = this.#poll.onRefUpdate(cb);
    return () => {
      a();
      b();
    };
  }

  onRejected(cb: (r: RejectedMessage) => void): Unsubscribe {
    return this.#primary.onRejected(cb);
  }

  /** The primary's status (the poll channel's is internal). */
  onStatus(cb: (s: ChannelStatus) => void): Unsubscribe {
    return this.#primary.onStatus(cb);
  }

  publishState(s: StateReport): Promise<boolean> {
    return this.#primary.publishState(s);
  }

  publishEvent(e: EventBody): Promise<boolean> {
    return this.#primary.publishEvent(e);
  }
}
