/**
 * The MQTT channel: the only file that imports mqtt.js.
 *
 * - Connects with MQTT 5 and falls back to 3.1.1 when the broker refuses
 *   the protocol level. The session is persistent (clean start off, a
 *   session expiry on MQTT 5) and the client id stable, so QoS 1 commands
 *   published while the device was away are delivered when it returns.
 * - The last will is the device's latest state with `online: false`,
 *   retained, so the state topic says "offline" when the connection dies.
 * - Reconnects on its own schedule (mqtt.js only knows a fixed period):
 *   exponential backoff with jitter, reset by a successful connection.
 * - Subscribes to its channel's announcement, its own command topic and
 *   one command topic per tag; every inbound message goes through the
 *   {@link MessageGate}. The broker's PUBACK is sent only after the gate
 *   has recorded the message, so a crash in between makes the broker
 *   deliver it again instead of losing it.
 * - Publishes state (retained) and events with QoS 1. While offline the
 *   latest state and a bounded queue of events wait for the connection;
 *   messages in flight when a connection drops are sent again.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect, type IClientOptions, type IPublishPacket, type MqttClient } from 'mqtt';
import { CanopyError } from '../core/errors';
import { backoffDelay, type BackoffPolicy } from './backoff';
import {
  Listeners, type AnnouncementMessage, type Channel, type ChannelLog, type ChannelStatus, type CommandMessage, type RefUpdate,
  type RejectedMessage, type StateReport, type Unsubscribe,
} from './channel';
import type { DeviceIdentity, MessageGate } from './message-gate';
import type { DeviceEvent, DeviceState, EventBody } from './messages';
import { Outbox, type Outgoing } from './outbox';
import { MAX_REPORT_BYTES, PROTOCOL_VERSION, formatTimestamp } from './protocol';
import { classifyTopic, topicPrefix, topicsFor, type Topics } from './topics';
import { validateDeviceEvent, validateDeviceState } from './validate';

export interface MqttChannelOptions {
  /** Broker URL: `mqtt://`, `mqtts://`, `ws://` or `wss://`. */
  url: string;
  device: DeviceIdentity;
  /** The release channel whose announcement the device follows. */
  channel: string;
  gate: MessageGate;
  agentVersion: string;
  /** Topic prefix template (default `canopy/v1/{fleet}`). */
  topicPrefix?: string;
  /** Default `canopy-<fleet>-<device id>`. */
  clientId?: string;
  username?: string;
  password?: string;
  /** Read at every connection attempt (a rotated secret is picked up). */
  passwordFile?: string;
  /** PEM files, read at every connection attempt. */
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  /** Default 60. */
  keepaliveSeconds?: number;
  /** Start a fresh session at every connect (default false). Only for tests and special brokers: commands sent while away are lost. */
  cleanSession?: boolean;
  /** How long the broker keeps the session (and queues QoS 1 messages) while the device is away; MQTT 5 only. Default 7 days. */
  sessionExpirySeconds?: number;
  /** MQTT 5 will delay: a reconnect within this time suppresses the offline state. Default 0. */
  willDelaySeconds?: number;
  /** Default 30000. */
  connectTimeoutMs?: number;
  /** The protocol level tried first (default 5; 4 means 3.1.1). */
  protocolVersion?: 4 | 5;
  backoff?: Partial<BackoffPolicy>;
  /** Events kept while offline (default 256); the oldest are dropped first. */
  maxQueuedEvents?: number;
  /** Most `rejected` events published per minute (default 20); others are only logged. */
  rejectedReportsPerMinute?: number;
  readFile?: (path: string) => Buffer;
  random?: () => number;
  now?: () => number;
  log?: ChannelLog;
}

/** The largest packet the device asks the broker to deliver (MQTT 5); bigger ones are dropped by the broker. */
const MAX_INBOUND_PACKET = 256 * 1024;
const REFUSED_PROTOCOL = new Set([1, 132]);

/** The MQTT adapter of {@link Channel}. */
export class MqttChannel implements Channel {
  readonly #o: MqttChannelOptions;
  readonly #topics: Topics;
  readonly #now: () => number;
  readonly #log: ChannelLog;
  readonly #announcements: Listeners<AnnouncementMessage>;
  readonly #commands: Listeners<CommandMessage>;
  readonly #refUpdates: Listeners<RefUpdate>;
  readonly #rejected: Listeners<RejectedMessage>;
  readonly #status: Listeners<ChannelStatus>;
  #client: MqttClient | undefined;
  #gen = 0;
  #stopped = true;
  #connected = false;
  #attempt = 0;
  #version: 4 | 5;
  #retryNow = false;
  #lastError: string | undefined;
  #timer: NodeJS.Timeout | undefined;
  #report: StateReport = {};
  readonly #outbox: Outbox;
  #rejectWindow = { start: 0, count: 0 };

  /** @throws ERR_INVALID_ARGUMENT for a device id, fleet, channel, tag or prefix that cannot be a topic. */
  constructor(opts: MqttChannelOptions) {
    this.#o = opts;
    this.#topics = topicsFor(topicPrefix(opts.device.fleet, opts.topicPrefix));
    this.#topics.announcement(opts.channel);
    this.#topics.state(opts.device.id);
    for (const t of opts.device.tags ?? []) this.#topics.tagCommands(t);
    this.#now = opts.now ?? Date.now;
    this.#version = opts.protocolVersion ?? 5;
    this.#log = opts.log ?? (() => undefined);
    this.#outbox = new Outbox(opts.maxQueuedEvents ?? 256);
    const onError = (e: unknown): void => this.#log('error', `a channel listener threw: ${(e as Error)?.message ?? String(e)}`);
    this.#announcements = new Listeners(onError);
    this.#commands = new Listeners(onError);
    this.#refUpdates = new Listeners(onError);
    this.#rejected = new Listeners(onError);
    this.#status = new Listeners(onError);
  }

  /** The topics this channel uses. */
  get topics(): Topics {
    return this.#topics;
  }

  onAnnouncement(cb: (m: AnnouncementMessage) => void): Unsubscribe {
    return this.#announcements.add(cb);
  }

  onCommand(cb: (m: CommandMessage) => void): Unsubscribe {
    return this.#commands.add(cb);
  }

  /** Never fires on MQTT (see PollChannel); here for the Channel port. */
  onRefUpdate(cb: (u: RefUpdate) => void): Unsubscribe {
    return this.#refUpdates.add(cb);
  }

  onRejected(cb: (r: RejectedMessage) => void): Unsubscribe {
    return this.#rejected.add(cb);
  }

  onStatus(cb: (s: ChannelStatus) => void): Unsubscribe {
    return this.#status.add(cb);
  }

  async start(): Promise<void> {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#attempt = 0;
    this.#connect();
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    clearTimeout(this.#timer);
    const client = this.#client;
    const wasConnected = this.#connected;
    this.#gen++;
    this.#connected = false;
    this.#client = undefined;
    if (client && wasConnected) {
      await withTimeout(new Promise<void>((resolve) => {
        client.publish(this.#topics.state(this.#o.device.id), this.#stateBytes(false), { qos: 1, retain: true }, () => resolve());
      }), 2000);
      await withTimeout(client.endAsync(false).catch(() => undefined), 2000);
    }
    client?.end(true);
    this.#outbox.abandon();
    this.#status.emit({ state: 'stopped' });
  }

  publishState(report: StateReport): Promise<boolean> {
    const doc = this.#stateDoc(report, true);
    const v = validateDeviceState(doc);
    if (!v.ok) throw new CanopyError('ERR_INVALID_ARGUMENT', `state report: ${v.message}`, { issues: v.issues.map((i) => `${i.path}: ${i.message}`) });
    checkSize(doc, 'state report');
    this.#report = report;
    return new Promise<boolean>((resolve) => {
      const o: Outgoing = { topic: this.#topics.state(this.#o.device.id), build: () => this.#stateBytes(true), retain: true, resolve };
      this.#send(o);
    });
  }

  publishEvent(body: EventBody): Promise<boolean> {
    const doc: DeviceEvent = {
      v: PROTOCOL_VERSION, type: 'event', fleet: this.#o.device.fleet, device: this.#o.device.id,
      time: formatTimestamp(this.#now()), id: randomBytes(12).toString('base64url'), ...body,
    } as DeviceEvent;
    const v = validateDeviceEvent(doc);
    if (!v.ok) throw new CanopyError('ERR_INVALID_ARGUMENT', `event: ${v.message}`, { issues: v.issues.map((i) => `${i.path}: ${i.message}`) });
    const bytes = checkSize(doc, 'event');
    return new Promise<boolean>((resolve) => {
      const o: Outgoing = { topic: this.#topics.events(this.#o.device.id), build: () => bytes, retain: false, resolve };
      this.#send(o);
    });
  }

  #stateDoc(report: StateReport, online: boolean): DeviceState {
    const d = this.#o.device;
    return {
      v: PROTOCOL_VERSION, type: 'state', fleet: d.fleet, device: d.id, time: formatTimestamp(this.#now()), online,
      agentVersion: this.#o.agentVersion, ...(d.hardware ? { hardware: d.hardware } : {}), ...(d.tags ? { tags: [...d.tags] } : {}),
      channel: this.#o.channel, ...report,
    };
  }

  #stateBytes(online: boolean): Buffer {
    return Buffer.from(JSON.stringify(this.#stateDoc(this.#report, online)));
  }

  #emitStatus(s: ChannelStatus): void {
    this.#status.emit(s);
  }

  #clientOptions(): IClientOptions {
    const o = this.#o;
    const read = o.readFile ?? ((p: string) => readFileSync(p));
    const file = (p: string | undefined, what: string): Buffer | undefined => {
      if (p === undefined) return undefined;
      try {
        return read(p);
      } catch (e) {
        throw new CanopyError('ERR_CONFIG_INVALID', `cannot read the MQTT ${what} ${p}: ${(e as Error).message}`, { path: p }, { cause: e });
      }
    };
    const v5 = this.#version === 5;
    const password = o.password ?? file(o.passwordFile, 'password file')?.toString('utf8').replace(/\r?\n$/, '');
    return {
      protocolVersion: this.#version,
      clientId: o.clientId ?? `canopy-${o.device.fleet}-${o.device.id}`,
      clean: o.cleanSession ?? false,
      keepalive: o.keepaliveSeconds ?? 60,
      connectTimeout: o.connectTimeoutMs ?? 30_000,
      reconnectPeriod: 0,
      resubscribe: false,
      // mqtt-packet otherwise pre-builds 65,536 two-byte Buffers (~8 MiB of heap) to write packet ids.
      writeCache: false,
      username: o.username,
      password,
      ca: file(o.caFile, 'CA file'),
      cert: file(o.certFile, 'certificate'),
      key: file(o.keyFile, 'key'),
      rejectUnauthorized: true,
      properties: v5 ? {
        sessionExpiryInterval: o.cleanSession ? 0 : o.sessionExpirySeconds ?? 7 * 24 * 3600,
        maximumPacketSize: MAX_INBOUND_PACKET,
      } : undefined,
      will: {
        topic: this.#topics.state(o.device.id),
        payload: this.#stateBytes(false),
        qos: 1,
        retain: true,
        properties: v5 && o.willDelaySeconds ? { willDelayInterval: o.willDelaySeconds } : undefined,
      },
    };
  }

  #connect(): void {
    if (this.#stopped) return;
    const gen = ++this.#gen;
    let opts: IClientOptions;
    try {
      opts = this.#clientOptions();
    } catch (e) {
      this.#lastError = (e as Error).message;
      this.#log('error', this.#lastError);
      this.#scheduleReconnect();
      return;
    }
    this.#emitStatus({ state: 'connecting', error: this.#lastError });
    const client = connect(this.#o.url, opts);
    this.#client = client;
    client.handleMessage = (packet, done) => {
      this.#onPacket(gen, packet).then(() => done(), (e) => {
        this.#log('error', `handling a message on ${packet.topic} failed: ${(e as Error).message}`);
        done();
      });
    };
    client.on('connect', (connack) => this.#onConnect(gen, client, connack.sessionPresent));
    client.on('error', (e) => this.#onError(gen, e as Error & { code?: number | string }));
    client.on('disconnect', (p) => this.#log('warn', `broker disconnected the device (reason ${p.reasonCode ?? 'none'})`));
    client.on('close', () => this.#onClose(gen, client));
  }

  #onConnect(gen: number, client: MqttClient, sessionPresent: boolean): void {
    if (gen !== this.#gen) return;
    this.#connected = true;
    this.#attempt = 0;
    this.#lastError = undefined;
    this.#log('info', `connected to ${this.#o.url} with MQTT ${this.#version === 5 ? '5' : '3.1.1'}`, { sessionPresent });
    const d = this.#o.device;
    const topics = [this.#topics.announcement(this.#o.channel), this.#topics.deviceCommands(d.id), ...(d.tags ?? []).map((t) => this.#topics.tagCommands(t))];
    client.subscribe(Object.fromEntries(topics.map((t) => [t, { qos: 1 as const }])), (err, granted) => {
      if (gen !== this.#gen) return;
      const refused = (granted ?? []).filter((g) => g.qos >= 0x80).map((g) => g.topic);
      if (err || refused.length) {
        this.#lastError = err ? `subscribe failed: ${err.message}` : `the broker refused the subscription to ${refused.join(', ')}`;
        this.#log('error', this.#lastError);
      }
      this.#emitStatus({ state: 'connected', protocolVersion: this.#version, error: this.#lastError });
    });
    const held = this.#outbox.takeHeld();
    this.#send(held.state ?? { topic: this.#topics.state(d.id), build: () => this.#stateBytes(true), retain: true, resolve: () => undefined });
    for (const o of held.events) this.#send(o);
    const dropped = this.#outbox.takeDropped();
    if (dropped > 0) this.#log('warn', `${dropped} event(s) were dropped while offline (queue full)`);
  }

  #onError(gen: number, e: Error & { code?: number | string }): void {
    if (gen !== this.#gen) return;
    this.#lastError = e.message;
    if (this.#version === 5 && typeof e.code === 'number' && REFUSED_PROTOCOL.has(e.code)) {
      this.#version = 4;
      this.#retryNow = true;
      this.#log('warn', 'the broker refused MQTT 5; falling back to MQTT 3.1.1');
    } else {
      this.#log('warn', `MQTT: ${e.message}`);
    }
  }

  #onClose(gen: number, client: MqttClient): void {
    if (gen !== this.#gen || this.#client !== client) return;
    this.#connected = false;
    this.#client = undefined;
    client.end(true);
    // Whatever was not acknowledged goes out again on the next connection (QoS 1 allows duplicates).
    this.#outbox.requeueInflight();
    this.#scheduleReconnect();
  }

  #scheduleReconnect(): void {
    if (this.#stopped) return;
    clearTimeout(this.#timer);
    const delay = this.#retryNow ? 0 : backoffDelay(this.#attempt++, this.#o.backoff, this.#o.random);
    this.#retryNow = false;
    this.#emitStatus({ state: 'disconnected', error: this.#lastError, retryInMs: delay });
    this.#timer = setTimeout(() => this.#connect(), delay);
  }

  #send(o: Outgoing): void {
    const client = this.#client;
    if (!client || !this.#connected) {
      this.#outbox.hold(o);
      return;
    }
    const gen = this.#gen;
    const ticket = this.#outbox.sent(o);
    client.publish(o.topic, o.build(), { qos: 1, retain: o.retain }, (err) => {
      if (gen !== this.#gen || !this.#outbox.settle(ticket)) return;
      if (!err) o.resolve(true);
      else if (this.#connected) {
        this.#log('error', `publishing to ${o.topic} failed: ${err.message}`);
        o.resolve(false);
      } else this.#send(o);
    });
  }

  async #onPacket(gen: number, packet: IPublishPacket): Promise<void> {
    if (gen !== this.#gen) return;
    const topic = packet.topic;
    const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : Buffer.from(packet.payload);
    const kind = classifyTopic(this.#topics.prefix, topic);
    const isAnnouncement = kind?.kind === 'announcement' && kind.channel === this.#o.channel;
    if (!isAnnouncement && kind?.kind !== 'commands') {
      this.#log('debug', `ignoring a message on ${topic}`);
      return;
    }
    if (isAnnouncement && payload.length === 0) {
      this.#log('info', `the announcement on ${topic} was cleared`);
      return;
    }
    const type = isAnnouncement ? 'announcement' : 'command';
    const r = await this.#o.gate.check(type, payload, isAnnouncement ? this.#o.channel : undefined);
    if (r.ok && r.type === 'announcement') this.#announcements.emit({ announcement: r.announcement, signer: r.signer, topic });
    else if (r.ok && r.type === 'command') this.#commands.emit({ command: r.command, signer: r.signer, topic });
    else if (!r.ok) this.#reject({ ...r.rejection, topic, messageType: type });
  }

  #reject(r: RejectedMessage): void {
    this.#log('warn', `refused a ${r.messageType} on ${r.topic}: ${r.reason}: ${r.message}`);
    this.#rejected.emit(r);
    const now = this.#now();
    if (now - this.#rejectWindow.start >= 60_000) this.#rejectWindow = { start: now, count: 0 };
    if (++this.#rejectWindow.count > (this.#o.rejectedReportsPerMinute ?? 20)) return;
    const body: EventBody = {
      kind: 'rejected', topic: r.topic.slice(0, 512), messageType: r.messageType, reason: r.reason, message: r.message.slice(0, 2048),
      ...(r.nonce !== undefined ? { nonce: r.nonce } : {}),
    };
    try {
      void this.publishEvent(body);
    } catch (e) {
      this.#log('error', `cannot report a refused message: ${(e as Error).message}`);
    }
  }
}

function checkSize(doc: object, what: string): Buffer {
  const bytes = Buffer.from(JSON.stringify(doc));
  if (bytes.length > MAX_REPORT_BYTES) {
    throw new CanopyError('ERR_INVALID_ARGUMENT', `${what} is ${bytes.length} bytes; at most ${MAX_REPORT_BYTES} may be published`, { size: bytes.length });
  }
  return bytes;
}

async function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let t: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    t = setTimeout(() => resolve(undefined), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(t);
  }
}
