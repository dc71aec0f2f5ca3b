import { strict as assert } from 'node:assert';
import { MessageGate, NonceStore, type RejectionReason, type StoreFs } from '../../../agent/src/channel/index';
import { NOW, announcement, command, device, signed, trust } from './fixtures';

function memoryFs(fail = { on: false }): StoreFs {
  const files = new Map<string, Uint8Array>();
  return {
    readFile: async (p) => files.get(p),
    writeFileAtomic: async (p, d) => {
      if (fail.on) throw Object.assign(new Error('read-only file system'), { code: 'EROFS' });
      files.set(p, d);
    },
  };
}

async function gate(opts: { now?: number; fail?: { on: boolean }; dev?: typeof device } = {}): Promise<MessageGate> {
  const now = () => opts.now ?? NOW;
  const store = await NonceStore.open({ path: '/replay.json', fs: memoryFs(opts.fail), now, keepAfterExpiryMs: 300_000 });
  return new MessageGate({ device: opts.dev ?? device, trust, store, now, clockSkewSeconds: 300 });
}

async function verdict(g: MessageGate, type: 'announcement' | 'command', payload: object, channel?: string): Promise<RejectionReason | 'ok'> {
  const r = await g.check(type, await signed(type, payload), channel);
  return r.ok ? 'ok' : r.rejection.reason;
}

describe('channel/message-gate', () => {
  it('lets a command for this device through once', async () => {
    const g = await gate();
    const bytes = await signed('command', command({ kind: 'reboot', args: { reason: 'kernel' } }));
    const first = await g.check('command', bytes);
    assert.ok(first.ok && first.type === 'command' && first.command.kind === 'reboot');
    const second = await g.check('command', bytes);
    assert.ok(!second.ok && second.rejection.reason === 'replayed' && second.rejection.nonce === first.command.nonce);
  });

  it('accepts commands for a tag the device carries', async () => {
    assert.equal(await verdict(await gate(), 'command', command({ target: { tag: 'eu' } })), 'ok');
  });

  it('refuses commands for another fleet, device or tag as not-for-me', async () => {
    const g = await gate();
    assert.equal(await verdict(g, 'command', command({ fleet: 'other' })), 'not-for-me');
    assert.equal(await verdict(g, 'command', command({ target: { device: 'dev-0002' } })), 'not-for-me');
    assert.equal(await verdict(g, 'command', command({ target: { tag: 'us' } })), 'not-for-me');
  });

  it('refuses announcements for another fleet, channel or hardware as not-for-me', async () => {
    const g = await gate();
    assert.equal(await verdict(g, 'announcement', announcement(), 'stable'), 'ok');
    assert.equal(await verdict(g, 'announcement', announcement({ fleet: 'other' }), 'stable'), 'not-for-me');
    assert.equal(await verdict(g, 'announcement', announcement({ channel: 'beta' }), 'stable'), 'not-for-me');
    assert.equal(await verdict(g, 'announcement', announcement({ hardware: ['imx8'] }), 'stable'), 'not-for-me');
    assert.equal(await verdict(g, 'announcement', announcement({ hardware: ['imx8', 'rpi4'] }), 'stable'), 'ok');
    const noHw = await gate({ dev: { ...device, hardware: undefined as unknown as string } });
    assert.equal(await verdict(noHw, 'announcement', announcement({ hardware: ['rpi4'] }), 'stable'), 'not-for-me');
  });

  it('judges expiry with the clock-skew tolerance', async () => {
    const c = command({ created: new Date(NOW - 120_000), ttlSeconds: 60 }); // expired 60 s before NOW
    assert.equal(await verdict(await gate(), 'command', c), 'ok', 'within the 300 s skew');
    assert.equal(await verdict(await gate({ now: NOW + 240_000 }), 'command', c), 'ok', 'exactly at expiry + skew');
    assert.equal(await verdict(await gate({ now: NOW + 240_001 }), 'command', c), 'expired');
    const a = announcement({ created: new Date(NOW - 7200_000), ttlSeconds: 3600 });
    assert.equal(await verdict(await gate({ now: NOW + 600_000 }), 'announcement', a, 'stable'), 'expired');
  });

  it('refuses an announcement older than the newest accepted on its channel, and takes a repeat of the same', async () => {
    const g = await gate();
    const newer = announcement({ created: new Date(NOW - 60_000) });
    const older = announcement({ created: new Date(NOW - 120_000) });
    assert.equal(await verdict(g, 'announcement', newer, 'stable'), 'ok');
    assert.equal(await verdict(g, 'announcement', newer, 'stable'), 'ok', 'the retained copy arrives again after every reconnect');
    assert.equal(await verdict(g, 'announcement', older, 'stable'), 'replayed');
  });

  it('refuses a command it cannot record, rather than run it unrecorded', async () => {
    const fail = { on: true };
    const g = await gate({ fail });
    const r = await g.check('command', await signed('command', command()));
    assert.ok(!r.ok && r.rejection.reason === 'internal-error' && /read-only/.test(r.rejection.message), JSON.stringify(r));
    fail.on = false;
    assert.equal(await verdict(g, 'command', command()), 'ok');
  });
});
