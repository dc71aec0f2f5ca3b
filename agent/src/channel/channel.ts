/**
 * The port the daemon talks to the outside through. Two adapters:
 * {@link MqttChannel} (push: announcements, commands, state and events over
 * MQTT) and {@link PollChannel} (pull: the repository summary over HTTP,
 * for when MQTT is absent or down); {@link FallbackChannel} combines them.
 * Tests of the daemon pass a fake.
 *
 * Everything a channel surfaces has passed the message gate (signature,
 * schema, addressing, expiry, replay). Refused messages go to
 * `onRejected` listeners and, on MQTT, to the device's event topic; they
 * never reach `onAnnouncement` or `onCommand`.
 */
import type { Rejection, Signer } from './envelope';
import type { Announcement, Command, DeviceState, EventBody, SignedType } from './messages';

/** A verified announcement. */
export interface AnnouncementMessage {
  announcement: Announcement;
  signer: Signer;
  topic: string;
}

/** A verified command, addressed to this device, seen for the first time. */
export interface CommandMessage {
  command: Command;
  signer: Signer;
  topic: string;
}

/** The remote repository's ref moved (from polling its summary). */
export interface RefUpdate {
  ref: string;
  commit: string;
  /** The repository URL the summary came from. */
  url: string;
  /** The summary was signed and the signature passed the remote's policy. */
  verified: boolean;
}

/** A message a channel refused. */
export interface RejectedMessage extends Rejection {
  topic: string;
  messageType: SignedType | 'unknown';
}

/** A channel's connection state. */
export interface ChannelStatus {
  state: 'stopped' | 'connecting' | 'connected' | 'disconnected';
  /** MQTT protocol level in use (5, or 4 for 3.1.1) while connected. */
  protocolVersion?: 4 | 5;
  /** The last error, for logs. */
  error?: string;
  /** When disconnected: milliseconds until the next attempt. */
  retryInMs?: number;
}

/** What the daemon fills in for a state report; the channel adds identity, time and `online`. */
export type StateReport = Omit<DeviceState, 'v' | 'type' | 'fleet' | 'device' | 'time' | 'online' | 'agentVersion'>;

/** Removes a listener. */
export type Unsubscribe = () => void;

/** The channel port. */
export interface Channel {
  /** Starts connecting or polling in the background; resolves at once. */
  start(): Promise<void>;
  /** Stops; on MQTT publishes the offline state first. Idempotent. */
  stop(): Promise<void>;
  onAnnouncement(cb: (m: AnnouncementMessage) => void): Unsubscribe;
  onCommand(cb: (m: CommandMessage) => void): Unsubscribe;
  onRefUpdate(cb: (u: RefUpdate) => void): Unsubscribe;
  onRejected(cb: (r: RejectedMessage) => void): Unsubscribe;
  onStatus(cb: (s: ChannelStatus) => void): Unsubscribe;
  /**
   * Publishes the device's state (retained). Call it before start() too:
   * the last will carries the latest state with `online: false`. Resolves
   * true when the broker acknowledged it, false when it was superseded by
   * a newer state, dropped, or the channel has no upstream (polling).
   *
   * @throws ERR_INVALID_ARGUMENT (synchronously) when the report does not
   *   match the state schema.
   */
  publishState(s: StateReport): Promise<boolean>;
  /**
   * Publishes an event. Queued (bounded) while offline. Resolves true when
   * the broker acknowledged it, false when dropped.
   *
   * @throws ERR_INVALID_ARGUMENT (synchronously) when the event does not
   *   match the event schema.
   */
  publishEvent(e: EventBody): Promise<boolean>;
}

/** A list of callbacks; a throwing callback is reported, not propagated. */
export class Listeners<T> {
  readonly #cbs = new Set<(v: T) => void>();
  readonly #onError: (e: unknown) => void;

  constructor(onError: (e: unknown) => void = () => undefined) {
    this.#onError = onError;
  }

  add(cb: (v: T) => void): Unsubscribe {
    this.#cbs.add(cb);
    return () => this.#cbs.delete(cb);
  }

  emit(v: T): void {
    for (const cb of [...this.#cbs]) {
      try {
        cb(v);
      } catch (e) {
        this.#onError(e);
      }
    }
  }

  get size(): number {
    return this.#cbs.size;
  }
}

/** A structured log sink: one call per event. */
export type ChannelLog = (level: 'error' | 'warn' | 'info' | 'debug', message: string, fields?: Record<string, unknown>) => void;
