/**
 * The MQTT channel against a real Mosquitto broker on a free loopback
 * port (test/helpers/mosquitto.ts). An operator client (plain mqtt.js)
 * publishes signed messages and watches the device's topics; a TCP proxy
 * between the device and the broker cuts the connection when a test needs
 * an ungraceful loss (for the last will) or an offline period.
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectAsync, type MqttClient } from 'mqtt';
import {
  MAX_MESSAGE_BYTES, MessageGate, MqttChannel, NonceStore, type AnnouncementMessage, type ChannelStatus, type CommandMessage,
  type DeviceEvent, type DeviceState, type MqttChannelOptions,
} from '../../agent/src/channel/index';
import { findMosquitto, startMosquitto, type Mosquitto } from '../helpers/mosquitto';
import { announcement as fixedAnnouncement, command as fixedCommand, device, signed, strangerKey, trust } from '../unit/channel/fixtures';

// The fixtures date messages at a fixed time for unit tests with a fake clock; here the clock is real.
const command = (over: Parameters<typeof fixedCommand>[0] = {}) => fixedCommand({ created: new Date(), ...over });
const announcement = (over: Parameters<typeof fixedAnnouncement>[0] = {}) => fixedAnnouncement({ created: new Date(Date.now() - 1000), ...over });

const PREFIX = 'canopy/v1/acme';
const T = {
  announcement: `${PREFIX}/channels/stable/announcement`,
  commands: `${PREFIX}/devices/${device.id}/commands`,
  tagCommands: `${PREFIX}/tags/lab/commands`,
  state: `${PREFIX}/devices/${device.id}/state`,
  events: `${PREFIX}/devices/${device.id}/events`,
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resolves when `pred` holds, polling every 10 ms; rejects after `ms`. */
async function until(pred: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** A TCP proxy that can drop every connection and refuse new ones. */
async function tcpProxy(port: number): Promise<{ port: number; cut(): void; block(on: boolean): void; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  let blocked = false;
  const server: Server = createServer((down) => {
    if (blocked) {
      down.destroy();
      return;
    }
    const up = createConnection({ host: '127.0.0.1', port });
    for (const s of [down, up]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => sockets.delete(s));
    }
    down.pipe(up).pipe(down);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const a = server.address();
  return {
    port: typeof a === 'object' && a ? a.port : 0,
    cut: () => {
      for (const s of sockets) s.destroy();
    },
    block: (on) => {
      blocked = on;
    },
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((r) => server.close(() => r()));
    },
  };
}

describe('integration: MQTT channel against Mosquitto', function () {
  this.timeout(30_000);
  let broker: Mosquitto;
  let operator: MqttClient;
  let dir: string;
  let states: DeviceState[];
  let events: DeviceEvent[];
  const channels: MqttChannel[] = [];

  before(async function () {
    if (!findMosquitto()) {
      console.log('    (skipped: mosquitto is not installed; Debian package mosquitto)');
      this.skip();
    }
    broker = await startMosquitto();
  });

  after(async () => {
    await broker?.close();
  });

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'canopy-mqtt-'));
    states = [];
    events = [];
    operator = await connectAsync(broker.url, { protocolVersion: 5, clientId: `operator-${Math.random().toString(16).slice(2)}` });
    operator.on('message', (topic, payload) => {
      if (payload.length === 0) return;
      const doc = JSON.parse(payload.toString());
      if (topic === T.state) states.push(doc);
      if (topic === T.events) events.push(doc);
    });
    await operator.subscribeAsync([T.state, T.events], { qos: 1 });
  });

  afterEach(async () => {
    for (const c of channels.splice(0)) await c.stop();
    // clear what this test retained so the next one starts clean
    await operator.publishAsync(T.announcement, '', { qos: 1, retain: true });
    await operator.publishAsync(T.state, '', { qos: 1, retain: true });
    await operator.endAsync();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A device channel with its own replay store under the test's temp dir. */
  async function deviceChannel(over: Partial<MqttChannelOptions> & { storeName?: string } = {}) {
    const store = await NonceStore.open({ path: join(dir, over.storeName ?? 'replay.json'), keepAfterExpiryMs: 300_000 });
    const ch = new MqttChannel({
      url: broker.url, device, channel: 'stable', gate: new MessageGate({ device, trust, store }), agentVersion: '0.1.0-test',
      clientId: `canopy-test-${device.id}-${Math.random().toString(16).slice(2)}`, backoff: { initialMs: 100, maxMs: 2000 }, ...over,
    });
    channels.push(ch);
    const got = { announcements: [] as AnnouncementMessage[], commands: [] as CommandMessage[], status: [] as ChannelStatus[] };
    ch.onAnnouncement((a) => got.announcements.push(a));
    ch.onCommand((c) => got.commands.push(c));
    ch.onStatus((s) => got.status.push(s));
    const connected = () => got.status.at(-1)?.state === 'connected';
    return { ch, got, connected };
  }

  it('receives the retained announcement when it connects, and publishes its state as online', async () => {
    const a = announcement();
    await operator.publishAsync(T.announcement, await signed('announcement', a), { qos: 1, retain: true });
    const d = await deviceChannel();
    void d.ch.publishState({ running: { commit: a.commit, version: "1" }, phase: "idle" });
    await d.ch.start();
    await until(() => d.got.announcements.length === 1, 'the announcement');
    assert.deepEqual(d.got.announcements[0].announcement, a);
    assert.equal(d.got.announcements[0].topic, T.announcement);
    await until(() => states.some((s) => s.online), 'an online state');
    const s = states.find((x) => x.online)!;
    assert.equal(s.phase, 'idle');
    assert.equal(s.agentVersion, '0.1.0-test');
    assert.deepEqual(s.tags, device.tags);
    assert.equal(d.got.status.find((x) => x.state === 'connected')?.protocolVersion, 5);
  });

  it('gets a command that was sent while it was away (persistent session)', async () => {
    const clientId = `canopy-test-persist-${Math.random().toString(16).slice(2)}`;
    const first = await deviceChannel({ clientId });
    await first.ch.start();
    await until(first.connected, 'the first connection');
    await first.ch.stop();
    const c = command({ kind: 'reboot' });
    await operator.publishAsync(T.commands, await signed('command', c), { qos: 1 });
    const tagged = command({ kind: 'report-inventory', target: { tag: 'lab' } });
    await operator.publishAsync(T.tagCommands, await signed('command', tagged), { qos: 1 });
    const second = await deviceChannel({ clientId });
    await second.ch.start();
    await until(() => second.got.commands.length === 2, 'both queued commands');
    assert.deepEqual(second.got.commands.map((x) => x.command.nonce), [c.nonce, tagged.nonce]);
    assert.equal(first.got.commands.length, 0);
  });

  it('is marked offline by its last will when the connection dies, and online again when it returns', async () => {
    const proxy = await tcpProxy(broker.port);
    try {
      const d = await deviceChannel({ url: `mqtt://127.0.0.1:${proxy.port}`, keepaliveSeconds: 5 });
      void d.ch.publishState({ phase: "idle", running: { commit: announcement().commit } });
      await d.ch.start();
      await until(() => states.some((s) => s.online), 'online');
      proxy.block(true);
      proxy.cut();
      await until(() => states.at(-1)?.online === false, 'the last will');
      const will = states.at(-1)!;
      assert.equal(will.phase, 'idle', 'the will carries the last known state');
      assert.equal(will.running?.commit, announcement().commit);
      // events published while offline are queued and delivered on return
      void d.ch.publishEvent({ kind: 'progress', phase: 'download', done: 1, total: 2, unit: 'objects' });
      proxy.block(false);
      await until(() => states.at(-1)?.online === true, 'online again');
      await until(() => events.some((e) => e.kind === 'progress'), 'the queued event');
    } finally {
      await proxy.close();
    }
  });

  it('reconnects with growing delays when the broker restarts, then subscribes again', async () => {
    const d = await deviceChannel({ random: () => 0, backoff: { initialMs: 100, maxMs: 5000, factor: 2 } });
    await d.ch.start();
    await until(d.connected, 'connected');
    const before = d.got.status.length;
    await broker.stop();
    await until(() => d.got.status.filter((s, i) => i >= before && s.state === 'disconnected').length >= 4, 'four failed attempts', 10_000);
    const delays = d.got.status.slice(before).filter((s) => s.state === 'disconnected').map((s) => s.retryInMs);
    assert.deepEqual(delays.slice(0, 4), [100, 200, 400, 800]);
    await broker.start();
    await until(d.connected, 'reconnected', 10_000);
    // the restarted broker kept nothing: the channel subscribed again by itself
    const c = command({ kind: 'check-now' });
    await until(() => operator.connected, 'operator reconnected', 10_000);
    await operator.subscribeAsync([T.state, T.events], { qos: 1 });
    await operator.publishAsync(T.commands, await signed('command', c), { qos: 1 });
    await until(() => d.got.commands.some((x) => x.command.nonce === c.nonce), 'a command after the restart');
  });

  it('refuses forged, unknown-key, expired, replayed, misaddressed, malformed and oversized messages and reports each', async () => {
    const d = await deviceChannel();
    const rejected: string[] = [];
    d.ch.onRejected((r) => rejected.push(r.reason));
    await d.ch.start();
    await until(d.connected, 'connected');

    const good = command({ kind: 'reboot' });
    const goodBytes = await signed('command', good);
    const forged = JSON.parse(goodBytes.toString());
    forged.payload = forged.payload.replace('"reboot"', '"rollback"');
    const cases: Array<[string, Buffer, string]> = [
      ['bad-signature', Buffer.from(JSON.stringify(forged)), T.commands],
      ['unknown-key', await signed('command', command(), [strangerKey]), T.commands],
      ['expired', await signed('command', command({ created: new Date(Date.now() - 7200_000), ttlSeconds: 60 })), T.commands],
      ['not-for-me', await signed('command', command({ target: { device: 'dev-9999' } })), T.commands],
      ['malformed', await signed('command', { ...command(), kind: 'format-disk' }), T.commands],
      ['too-large', Buffer.alloc(MAX_MESSAGE_BYTES + 100, 0x20), T.commands],
      ['unsigned', Buffer.from(JSON.stringify({ v: 1, type: 'announcement', payload: JSON.stringify(announcement()), signatures: [] })), T.announcement],
    ];
    await operator.publishAsync(T.commands, goodBytes, { qos: 1 });
    await operator.publishAsync(T.commands, goodBytes, { qos: 1 }); // the replay
    for (const [, bytes, topic] of cases) await operator.publishAsync(topic, bytes, { qos: 1 });

    const expected = ['replayed', ...cases.map((c) => c[0])];
    await until(() => events.filter((e) => e.kind === 'rejected').length === expected.length, 'a rejected event per bad message');
    const reported = events.filter((e): e is Extract<DeviceEvent, { kind: 'rejected' }> => e.kind === 'rejected');
    assert.deepEqual(reported.map((e) => e.reason), expected);
    assert.deepEqual(rejected, expected);
    assert.equal(reported[0].nonce, good.nonce, 'the replay names the nonce it reused');
    assert.equal(reported.at(-1)!.messageType, 'announcement');
    assert.ok(reported.every((e) => e.device === device.id && e.topic.startsWith(PREFIX)));
    // only the one good command was surfaced; nothing else became an action
    assert.deepEqual(d.got.commands.map((c) => c.command.nonce), [good.nonce]);
    assert.equal(d.got.announcements.length, 0);
  });
});
