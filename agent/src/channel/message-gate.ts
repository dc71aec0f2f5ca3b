/**
 * The gate every inbound message passes before anything acts on it:
 * {@link openEnvelope} (size, JSON, version, schema, signature, payload),
 * then whether it is addressed to this device, whether it has expired, and
 * whether it was seen before (the replay store records it durably before
 * the gate lets it through). A refused message yields a {@link Rejection}
 * with a stable reason; it is reported, never acted on.
 */
import { isCanopyError } from '../core/errors';
import { openEnvelope, type Rejection, type Signer } from './envelope';
import type { MessageTrust } from './message-trust';
import type { Announcement, Command, SignedType } from './messages';
import type { NonceStore } from './nonce-store';
import { DEFAULT_CLOCK_SKEW_SECONDS, parseTimestamp } from './protocol';

/** Who this device is, as far as addressing goes. */
export interface DeviceIdentity {
  id: string;
  fleet: string;
  hardware?: string;
  tags?: readonly string[];
}

export interface MessageGateOptions {
  device: DeviceIdentity;
  trust: MessageTrust;
  store: NonceStore;
  /** Tolerance for clock differences when judging expiry (default 300 s). */
  clockSkewSeconds?: number;
  /** Milliseconds since the epoch (default Date.now). */
  now?: () => number;
}

/** What the gate let through, or why not. */
export type GateResult =
  | { ok: true; type: 'announcement'; announcement: Announcement; signer: Signer; raw: Uint8Array }
  | { ok: true; type: 'command'; command: Command; signer: Signer; raw: Uint8Array }
  | { ok: false; type: SignedType; rejection: Rejection };

/** Verifies inbound messages for one device. */
export class MessageGate {
  readonly #o: MessageGateOptions;
  readonly #skewMs: number;
  readonly #now: () => number;

  constructor(opts: MessageGateOptions) {
    this.#o = opts;
    this.#skewMs = (opts.clockSkewSeconds ?? DEFAULT_CLOCK_SKEW_SECONDS) * 1000;
    this.#now = opts.now ?? Date.now;
  }

  /**
   * Checks a message received on a topic that carries `type`; for
   * announcements `channel` is the channel the topic belongs to. Never
   * throws for bad input.
   */
  async check(type: SignedType, bytes: Uint8Array, channel?: string): Promise<GateResult> {
    const now = this.#now();
    const opened = await openEnvelope(bytes, type, this.#o.trust, { now: new Date(now) });
    if (!opened.ok) return { ok: false, type, rejection: opened.rejection };
    const dev = this.#o.device;
    const no = (reason: Rejection['reason'], message: string, nonce?: string): GateResult =>
      ({ ok: false, type, rejection: nonce === undefined ? { reason, message } : { reason, message, nonce } });

    if (opened.type === 'announcement') {
      const a = opened.payload;
      if (a.fleet !== dev.fleet) return no('not-for-me', `announcement is for fleet ${a.fleet}, this device is in ${dev.fleet}`);
      if (channel !== undefined && a.channel !== channel) return no('not-for-me', `announcement is for channel ${a.channel} but arrived on channel ${channel}`);
      if (a.hardware && !(dev.hardware !== undefined && a.hardware.includes(dev.hardware))) {
        return no('not-for-me', `announcement is for hardware ${a.hardware.join(', ')}, this device is ${dev.hardware ?? '(unset)'}`);
      }
      if (now > parseTimestamp(a.expires) + this.#skewMs) return no('expired', `announcement expired at ${a.expires}`);
      try {
        const v = await this.#o.store.recordAnnouncement(a.channel, parseTimestamp(a.created));
        if (v === 'older') return no('replayed', `announcement created ${a.created} is older than one already accepted on channel ${a.channel}`);
      } catch (e) {
        return no('internal-error', `cannot record the announcement: ${isCanopyError(e) ? e.message : String(e)}`);
      }
      return { ok: true, type: 'announcement', announcement: a, signer: opened.signer, raw: bytes };
    }

    const c = opened.payload;
    if (c.fleet !== dev.fleet) return no('not-for-me', `command is for fleet ${c.fleet}, this device is in ${dev.fleet}`, c.nonce);
    if (c.target.device !== undefined && c.target.device !== dev.id) {
      return no('not-for-me', `command is for device ${c.target.device}, this is ${dev.id}`, c.nonce);
    }
    if (c.target.tag !== undefined && !(dev.tags ?? []).includes(c.target.tag)) {
      return no('not-for-me', `command is for tag ${c.target.tag}, which this device does not carry`, c.nonce);
    }
    const expires = parseTimestamp(c.expires);
    if (now > expires + this.#skewMs) return no('expired', `command expired at ${c.expires}`, c.nonce);
    try {
      const v = await this.#o.store.record(c.nonce, parseTimestamp(c.created), expires);
      if (v === 'replayed') return no('replayed', `command nonce ${c.nonce} was already used (or is too old for the replay store to tell)`, c.nonce);
    } catch (e) {
      return no('internal-error', `cannot record the command's nonce: ${isCanopyError(e) ? e.message : String(e)}`, c.nonce);
    }
    return { ok: true, type: 'command', command: c, signer: opened.signer, raw: bytes };
  }
}
