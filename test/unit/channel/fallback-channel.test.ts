import { strict as assert } from 'node:assert';
import {
  FallbackChannel, Listeners, type Channel, type ChannelStatus, type EventBody, type RefUpdate, type StateReport,
} from '../../../agent/src/channel/index';

/** A channel whose status the test drives. */
class FakeChannel implements Channel {
  readonly status = new Listeners<ChannelStatus>();
  readonly refs = new Listeners<RefUpdate>();
  running = false;
  starts = 0;
  events: EventBody[] = [];
  async start() {
    this.running = true;
    this.starts++;
  }
  async stop() {
    this.running = false;
  }
  onAnnouncement() {
    return () => undefined;
  }
  onCommand() {
    return () => undefined;
  }
  onRefUpdate(cb: (u: RefUpdate) => void) {
    return this.refs.add(cb);
  }
  onRejected() {
    return () => undefined;
  }
  onStatus(cb: (s: ChannelStatus) => void) {
    return this.status.add(cb);
  }
  async publishState(_s: StateReport) {
    return true;
  }
  async publishEvent(e: EventBody) {
    this.events.push(e);
    return true;
  }
}

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('channel/fallback-channel', () => {
  it('polls only while MQTT has been down longer than the grace period', async () => {
    const mqtt = new FakeChannel();
    const poll = new FakeChannel();
    const ch = new FallbackChannel(mqtt, poll, { graceMs: 30 });
    const updates: RefUpdate[] = [];
    ch.onRefUpdate((u) => updates.push(u));
    await ch.start();
    mqtt.status.emit({ state: 'connected', protocolVersion: 5 });
    await tick(50);
    assert.equal(poll.running, false, 'MQTT is up: no polling');
    mqtt.status.emit({ state: 'disconnected', retryInMs: 1000 });
    await tick(10);
    mqtt.status.emit({ state: 'connected', protocolVersion: 5 });
    await tick(40);
    assert.equal(poll.starts, 0, 'a short outage stays within the grace period');
    mqtt.status.emit({ state: 'disconnected', retryInMs: 1000 });
    await tick(50);
    assert.equal(poll.running, true, 'polling after the grace period');
    assert.equal(ch.polling, true);
    poll.refs.emit({ ref: 'r', commit: 'c'.repeat(64), url: 'http://x/', verified: false });
    assert.equal(updates.length, 1);
    mqtt.status.emit({ state: 'connected', protocolVersion: 5 });
    assert.equal(poll.running, false, 'polling stops when MQTT is back');
    await ch.publishEvent({ kind: 'progress', phase: 'download' });
    assert.equal(mqtt.events.length, 1, 'events go to MQTT');
    await ch.stop();
    assert.equal(mqtt.running, false);
  });

  it('starts polling when MQTT never connects', async () => {
    const mqtt = new FakeChannel();
    const poll = new FakeChannel();
    const ch = new FallbackChannel(mqtt, poll, { graceMs: 20 });
    await ch.start();
    await tick(40);
    assert.equal(poll.running, true);
    await ch.stop();
    assert.equal(poll.running, false);
  });
});
