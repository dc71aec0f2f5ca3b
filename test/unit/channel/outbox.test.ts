import { strict as assert } from 'node:assert';
import { Outbox, type Outgoing } from '../../../agent/src/channel/outbox';

function msg(name: string, retain = false): Outgoing & { settled: Promise<boolean> } {
  let resolve!: (ok: boolean) => void;
  const settled = new Promise<boolean>((r) => {
    resolve = r;
  });
  return { topic: name, build: () => Buffer.from(name), retain, resolve, settled };
}

describe('channel/outbox', () => {
  it('holds only the newest state and a bounded queue of events', async () => {
    const box = new Outbox(2);
    const s1 = msg('s1', true);
    const s2 = msg('s2', true);
    const [e1, e2, e3] = [msg('e1'), msg('e2'), msg('e3')];
    for (const m of [s1, e1, s2, e2, e3]) box.hold(m);
    assert.equal(await s1.settled, false, 'superseded');
    assert.equal(await e1.settled, false, 'dropped');
    assert.equal(box.takeDropped(), 1);
    assert.equal(box.takeDropped(), 0);
    const held = box.takeHeld();
    assert.equal(held.state, s2);
    assert.deepEqual(held.events, [e2, e3]);
    assert.deepEqual(box.takeHeld(), { state: undefined, events: [] });
  });

  it('puts unacknowledged messages back ahead of newer ones when the connection drops', () => {
    const box = new Outbox(10);
    const [a, b, st] = [msg('a'), msg('b'), msg('st', true)];
    const ta = box.sent(a);
    box.sent(b);
    box.sent(st);
    assert.equal(box.settle(ta), a);
    assert.equal(box.settle(ta), undefined, 'settles once');
    const c = msg('c');
    box.hold(c);
    box.requeueInflight();
    const held = box.takeHeld();
    assert.equal(held.state, st);
    assert.deepEqual(held.events.map((m) => m.topic), ['b', 'c']);
  });

  it('keeps a newer held state over a requeued older one', async () => {
    const box = new Outbox(10);
    const old = msg('old', true);
    box.sent(old);
    const fresh = msg('fresh', true);
    box.hold(fresh);
    box.requeueInflight();
    assert.equal(await old.settled, false);
    assert.equal(box.takeHeld().state, fresh);
  });

  it('settles everything false when abandoned', async () => {
    const box = new Outbox(10);
    const [a, b, s] = [msg('a'), msg('b'), msg('s', true)];
    box.sent(a);
    box.hold(b);
    box.hold(s);
    box.abandon();
    assert.deepEqual(await Promise.all([a.settled, b.settled, s.settled]), [false, false, false]);
  });
});
