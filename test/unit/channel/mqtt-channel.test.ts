/**
 * Unit tests of the MQTT channel that need no real broker: the protocol
 * fallback against a tiny fake broker that only speaks MQTT 3.1.1, and
 * the checks made before anything is sent. The behaviour against a real
 * broker is in test/integration/mqtt.test.ts.
 */
import { strict as assert } from 'node:assert';
import { createServer, type Server, type Socket } from 'node:net';
import { isCanopyError } from '../../../agent/src/core/errors';
import { MessageGate, MqttChannel, NonceStore, type ChannelStatus, type StoreFs } from '../../../agent/src/channel/index';
import { COMMIT, device, trust } from './fixtures';

const memFs: StoreFs = { readFile: async () => undefined, writeFileAtomic: async () => undefined };

/** A broker that refuses MQTT 5 with a 3.1.1 CONNACK (return code 1) and accepts 3.1.1. */
function fake311Broker(): Promise<{ server: Server; port: number; levels: number[]; published: string[] }> {
  const levels: number[] = [];
  const published: string[] = [];
  const server = createServer((sock: Socket) => {
    let buf = Buffer.alloc(0);
    sock.on('error', () => undefined);
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        if (buf.length < 2) return;
        let len = 0;
        let mult = 1;
        let i = 1;
        for (; i < 5 && i < buf.length; i++) {
          len += (buf[i] & 0x7f) * mult;
          mult *= 128;
          if ((buf[i] & 0x80) === 0) break;
        }
        const start = i + 1;
        if (buf.length < start + len) return;
        const type = buf[0] >> 4;
        const qos = (buf[0] >> 1) & 0x03;
        const body = buf.subarray(start, start + len);
        buf = buf.subarray(start + len);
        if (type === 1) {
          const level = body[2 + body.readUInt16BE(0)];
          levels.push(level);
          if (level === 5) {
            sock.end(Buffer.from([0x20, 0x02, 0x00, 0x01]));
            return;
          }
          sock.write(Buffer.from([0x20, 0x02, 0x00, 0x00]));
        } else if (type === 8) {
          let n = 0;
          for (let p = 2; p < body.length; p += 2 + body.readUInt16BE(p) + 1) n++;
          sock.write(Buffer.from([0x90, 2 + n, body[0], body[1], ...new Array(n).fill(1)]));
        } else if (type === 3) {
          const tlen = body.readUInt16BE(0);
          published.push(body.subarray(2, 2 + tlen).toString());
          if (qos > 0) sock.write(Buffer.from([0x40, 0x02, body[2 + tlen], body[3 + tlen]]));
        } else if (type === 12) {
          sock.write(Buffer.from([0xd0, 0x00]));
        }
      }
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => {
    const a = server.address();
    resolve({ server, port: typeof a === 'object' && a ? a.port : 0, levels, published });
  }));
}

async function channel(url: string, over: Partial<ConstructorParameters<typeof MqttChannel>[0]> = {}): Promise<MqttChannel> {
  const store = await NonceStore.open({ path: '/replay.json', fs: memFs });
  return new MqttChannel({ url, device, channel: 'stable', gate: new MessageGate({ device, trust, store }), agentVersion: '1.2.3', backoff: { initialMs: 20 }, ...over });
}

describe('channel/mqtt-channel', () => {
  it('falls back to MQTT 3.1.1 when the broker refuses MQTT 5', async () => {
    const b = await fake311Broker();
    const ch = await channel(`mqtt://127.0.0.1:${b.port}`);
    const connected = new Promise<ChannelStatus>((resolve) => ch.onStatus((s) => s.state === 'connected' && resolve(s)));
    try {
      await ch.start();
      const s = await connected;
      assert.equal(s.protocolVersion, 4);
      assert.deepEqual(b.levels, [5, 4]);
      await new Promise((r) => setTimeout(r, 50));
      assert.ok(b.published.includes('canopy/v1/acme/devices/dev-0001/state'), `published ${b.published.join(', ')}`);
    } finally {
      await ch.stop();
      await new Promise((r) => b.server.close(r));
    }
  });

  it('refuses names that cannot be topics when it is built', async () => {
    await assert.rejects(channel('mqtt://127.0.0.1:1', { channel: 'a/b' }), (e) => isCanopyError(e, 'ERR_INVALID_ARGUMENT'));
    await assert.rejects(channel('mqtt://127.0.0.1:1', { device: { ...device, tags: ['#'] } }), (e) => isCanopyError(e, 'ERR_INVALID_ARGUMENT'));
    await assert.rejects(channel('mqtt://127.0.0.1:1', { topicPrefix: 'x/+/{fleet}' }), (e) => isCanopyError(e, 'ERR_INVALID_ARGUMENT'));
  });

  it('refuses to publish reports that do not match their schema, before queueing them', async () => {
    const ch = await channel('mqtt://127.0.0.1:1');
    assert.throws(() => ch.publishState({ running: { commit: 'abc' } }), (e) => isCanopyError(e, 'ERR_INVALID_ARGUMENT') && /running\.commit/.test(e.message));
    assert.throws(() => ch.publishEvent({ kind: 'health', commit: COMMIT, result: 'maybe' as 'pass', checks: [] }), (e) => isCanopyError(e, 'ERR_INVALID_ARGUMENT') && /result/.test(e.message));
    assert.throws(() => ch.publishEvent({ kind: 'progress', phase: 'download', message: 'x'.repeat(70_000) }), (e) => isCanopyError(e, 'ERR_INVALID_ARGUMENT'));
  });

  it('keeps only the latest state and a bounded event queue while offline', async () => {
    const ch = await channel('mqtt://127.0.0.1:1', { maxQueuedEvents: 2 });
    const s1 = ch.publishState({ phase: 'idle' });
    const s2 = ch.publishState({ phase: 'downloading' });
    const e = [1, 2, 3].map((i) => ch.publishEvent({ kind: 'progress', phase: 'download', done: i }));
    assert.equal(await s1, false, 'superseded by the newer state');
    assert.equal(await e[0], false, 'dropped: the queue holds two');
    await ch.start();
    await ch.stop();
    assert.deepEqual(await Promise.all([s2, e[1], e[2]]), [false, false, false], 'never connected: nothing was delivered');
  });
});
