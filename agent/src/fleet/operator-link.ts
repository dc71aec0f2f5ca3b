/**
 * The operator's MQTT connection: the only operator-side file that imports
 * mqtt.js (the device side has its own in channel/mqtt-channel.ts).
 *
 * - Connects with MQTT 3.1.1, a clean session and a fresh client id: the
 *   operator keeps nothing in the broker; everything that must survive is
 *   in retained messages. mqtt.js reconnects and resubscribes by itself.
 * - Watches the fleet (`devices/+/state`, `devices/+/events`); states and
 *   events are checked against their schemas, and the device id in the
 *   topic must equal the one in the payload; others are counted and dropped.
 * - Publishes announcements (retained) and commands (not retained), QoS 1,
 *   resolving once the broker acknowledged them.
 * - "Snapshot complete": after a subscription the broker sends what it
 *   retains. To know when that burst is over, the link publishes a marker
 *   on its own topic `<prefix>/operators/<client id>/sync` and waits for it
 *   to come back (a broker delivers one client's messages in order), then
 *   for a short quiet spell, since some brokers send retained messages
 *   from storage asynchronously. ACLs must let operators use that topic.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import { CanopyError, ioError } from '../core/errors';
import {
  classifyTopic, encodeEnvelope, topicPrefix, topicsFor, validateDeviceEvent, validateDeviceState,
  type DeviceEvent, type DeviceState, type Envelope, type Topics,
} from '../channel/index';

export interface OperatorLinkOptions {
  /** `mqtt://`, `mqtts://`, `ws://` or `wss://`. */
  url: string;
  fleet: string;
  /** Topic prefix template (default `canopy/v1/{fleet}`). */
  topicPrefix?: string;
  /** Default `canopy-operator-<random>`. */
  clientId?: string;
  username?: string;
  passwordFile?: string;
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  /** Give up connecting after this long (default 10 s). */
  connectTimeoutMs?: number;
  /** Quiet spell after the sync marker before a snapshot counts as complete (default 150 ms). */
  settleMs?: number;
}

type Listener<T> = (value: T) => void;

function readOptional(path: string | undefined, what: string): Buffer | undefined {
  if (path === undefined) return undefined;
  try {
    return readFileSync(path);
  } catch (e) {
    throw ioError(e, `read MQTT ${what}`, path);
  }
}

export class OperatorLink {
  readonly topics: Topics;
  readonly #client: MqttClient;
  readonly #settleMs: number;
  readonly #syncTopic: string;
  readonly #states = new Set<Listener<DeviceState>>();
  readonly #events = new Set<Listener<DeviceEvent>>();
  readonly #retained = new Map<string, Set<Listener<Buffer>>>();
  readonly #latest = new Map<string, Buffer>();
  /** Every device's latest state, once the fleet is watched (replayed to later watchers). */
  readonly #deviceStates = new Map<string, DeviceState>();
  #statesWatched = false;
  #eventsWatched = false;
  readonly #syncWaiters = new Map<string, () => void>();
  #lastMessage = 0;
  /** Messages dropped because they were malformed or claimed another device. */
  dropped = 0;

  private constructor(client: MqttClient, topics: Topics, clientId: string, settleMs: number) {
    this.#client = client;
    this.topics = topics;
    this.#settleMs = settleMs;
    this.#syncTopic = `${topics.prefix}/operators/${clientId}/sync`;
    client.on('message', (topic, payload) => this.#onMessage(topic, payload));
  }

  /**
   * Connects to the broker.
   *
   * @throws ERR_INVALID_ARGUMENT for a bad fleet or prefix; ERR_IO when a
   *   TLS or password file cannot be read; ERR_NETWORK when the broker
   *   refuses or cannot be reached; ERR_TIMEOUT when it does not answer.
   */
  static async connect(o: OperatorLinkOptions): Promise<OperatorLink> {
    const topics = topicsFor(topicPrefix(o.fleet, o.topicPrefix));
    const clientId = o.clientId ?? `canopy-operator-${randomBytes(6).toString('hex')}`;
    const password = readOptional(o.passwordFile, 'password file')?.toString('utf8').replace(/\r?\n$/, '');
    const opts: IClientOptions = {
      clientId, protocolVersion: 4, clean: true, reconnectPeriod: 1000, connectTimeout: o.connectTimeoutMs ?? 10_000,
      username: o.username, password, ca: readOptional(o.caFile, 'CA file'), cert: readOptional(o.certFile, 'certificate'),
      key: readOptional(o.keyFile, 'key'), resubscribe: true,
    };
    const timeout = o.connectTimeoutMs ?? 10_000;
    const client = connect(o.url, opts);
    await new Promise<void>((resolve, reject) => {
      const fail = (e: CanopyError): void => {
        clearTimeout(timer);
        client.end(true);
        reject(e);
      };
      const timer = setTimeout(() => fail(new CanopyError('ERR_TIMEOUT', `the MQTT broker at ${o.url} did not accept a connection within ${timeout} ms`, { url: o.url })), timeout);
      client.once('connect', () => {
        clearTimeout(timer);
        client.removeAllListeners('error');
        client.on('error', () => undefined); // reconnects are mqtt.js's business from here on
        resolve();
      });
      client.once('error', (e: Error & { code?: string | number }) => fail(new CanopyError('ERR_NETWORK', `cannot connect to the MQTT broker at ${o.url}: ${e.message}`, { url: o.url, errno: String(e.code ?? '') }, { cause: e })));
    });
    const link = new OperatorLink(client, topics, clientId, o.settleMs ?? 150);
    await client.subscribeAsync(link.#syncTopic, { qos: 1 });
    return link;
  }

  #onMessage(topic: string, payload: Buffer): void {
    this.#lastMessage = Date.now();
    if (topic === this.#syncTopic) {
      const id = payload.toString('utf8');
      this.#syncWaiters.get(id)?.();
      this.#syncWaiters.delete(id);
      return;
    }
    const exact = this.#retained.get(topic);
    if (exact) {
      this.#latest.set(topic, payload);
      for (const cb of [...exact]) cb(payload);
    }
    const kind = classifyTopic(this.topics.prefix, topic);
    if (!kind || payload.length === 0) return;
    if (kind.kind !== 'state' && kind.kind !== 'events') return;
    let doc: unknown;
    try {
      doc = JSON.parse(payload.toString('utf8'));
    } catch {
      this.dropped++;
      return;
    }
    if (kind.kind === 'state') {
      const v = validateDeviceState(doc);
      if (!v.ok || v.value.device !== kind.device) {
        this.dropped++;
        return;
      }
      this.#deviceStates.set(v.value.device, v.value);
      for (const cb of this.#states) cb(v.value);
    } else {
      const v = validateDeviceEvent(doc);
      if (!v.ok || v.value.device !== kind.device) {
        this.dropped++;
        return;
      }
      for (const cb of this.#events) cb(v.value);
    }
  }

  onState(cb: Listener<DeviceState>): () => void {
    this.#states.add(cb);
    return () => this.#states.delete(cb);
  }

  onEvent(cb: Listener<DeviceEvent>): () => void {
    this.#events.add(cb);
    return () => this.#events.delete(cb);
  }

  /** Resolves once everything the broker queued for us before now has arrived (see the module notes). */
  async sync(timeoutMs = 10_000): Promise<void> {
    const id = randomBytes(8).toString('hex');
    const back = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#syncWaiters.delete(id);
        reject(new CanopyError('ERR_TIMEOUT', `the broker did not echo the operator's sync marker within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#syncWaiters.set(id, () => {
        clearTimeout(timer);
        resolve();
      });
    });
    await this.#client.publishAsync(this.#syncTopic, id, { qos: 1 });
    await back;
    const deadline = Date.now() + Math.max(this.#settleMs * 10, 1000);
    while (Date.now() - this.#lastMessage < this.#settleMs && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, this.#settleMs / 2));
    }
  }

  /**
   * Subscribes to every device's state (and events); resolves when the
   * retained states have arrived, each given to the state listeners. When
   * the fleet is already watched, the states the link has seen are given
   * again instead (the broker would not resend them).
   */
  async watchFleet(opts: { events?: boolean } = {}): Promise<void> {
    const replay = this.#statesWatched;
    const subs: Record<string, { qos: 1 }> = {};
    if (!this.#statesWatched) subs[`${this.topics.prefix}/devices/+/state`] = { qos: 1 };
    if (opts.events !== false && !this.#eventsWatched) subs[`${this.topics.prefix}/devices/+/events`] = { qos: 1 };
    if (Object.keys(subs).length > 0) await this.#client.subscribeAsync(subs);
    this.#statesWatched = true;
    if (opts.events !== false) this.#eventsWatched = true;
    await this.sync();
    if (replay) for (const st of [...this.#deviceStates.values()]) for (const cb of [...this.#states]) cb(st);
  }

  /** Subscribes to events only (e.g. to wait for acknowledgements). */
  async watchEvents(): Promise<void> {
    if (!this.#eventsWatched) await this.#client.subscribeAsync(`${this.topics.prefix}/devices/+/events`, { qos: 1 });
    this.#eventsWatched = true;
    await this.sync();
  }

  /** The retained message on `topic`, or undefined when there is none. */
  async readRetained(topic: string): Promise<Buffer | undefined> {
    const w = await this.watchRetained(topic);
    await w.stop();
    return w.latest;
  }

  /**
   * Follows `topic`: `latest` is what the broker retains now (undefined
   * when nothing), then `onChange` gets every later message until `stop`.
   * Several watchers of one topic share one subscription (mqtt.js does not
   * subscribe twice, so the broker would not send the retained copy again;
   * the link keeps the latest itself).
   */
  async watchRetained(topic: string, onChange?: Listener<Buffer>): Promise<{ latest: Buffer | undefined; stop: () => Promise<void> }> {
    const set = this.#retained.get(topic) ?? new Set();
    this.#retained.set(topic, set);
    const cb: Listener<Buffer> = (b) => onChange?.(b);
    const first = set.size === 0;
    set.add(cb);
    if (first) await this.#client.subscribeAsync(topic, { qos: 1 });
    await this.sync();
    const b = this.#latest.get(topic);
    let stopped = false;
    return {
      latest: b && b.length > 0 ? b : undefined,
      stop: async () => {
        if (stopped) return;
        stopped = true;
        set.delete(cb);
        if (set.size === 0) {
          this.#retained.delete(topic);
          this.#latest.delete(topic);
          await this.#client.unsubscribeAsync(topic).catch(() => undefined);
        }
      },
    };
  }

  /** Publishes a signed announcement, retained. */
  async publishAnnouncement(channel: string, envelope: Envelope): Promise<void> {
    await this.#client.publishAsync(this.topics.announcement(channel), encodeEnvelope(envelope), { qos: 1, retain: true });
  }

  /** Removes the channel's retained announcement. */
  async clearAnnouncement(channel: string): Promise<void> {
    await this.#client.publishAsync(this.topics.announcement(channel), Buffer.alloc(0), { qos: 1, retain: true });
  }

  /** Publishes a signed command to a device's or a tag's command topic (never retained). */
  async publishCommand(target: { device: string } | { tag: string }, bytes: Buffer): Promise<void> {
    const topic = 'device' in target ? this.topics.deviceCommands(target.device) : this.topics.tagCommands(target.tag);
    await this.#client.publishAsync(topic, bytes, { qos: 1, retain: false });
  }

  /** Publishes raw bytes (tests of hostile senders, benchmarks). */
  async publishRaw(topic: string, bytes: Buffer, retain = false): Promise<void> {
    await this.#client.publishAsync(topic, bytes, { qos: 1, retain });
  }

  async close(): Promise<void> {
    await this.#client.endAsync();
  }
}
