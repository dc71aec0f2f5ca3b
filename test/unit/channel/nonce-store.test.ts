import { strict as assert } from 'node:assert';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isCanopyError } from '../../../agent/src/core/errors';
import { NonceStore, nodeStoreFs, type StoreFs } from '../../../agent/src/channel/nonce-store';

/** An in-memory StoreFs that can be told to fail writes. */
function memoryFs(): StoreFs & { files: Map<string, Uint8Array>; failWrites: boolean; writes: number } {
  const fs = {
    files: new Map<string, Uint8Array>(),
    failWrites: false,
    writes: 0,
    async readFile(p: string) {
      return fs.files.get(p);
    },
    async writeFileAtomic(p: string, d: Uint8Array) {
      if (fs.failWrites) throw Object.assign(new Error('disk full'), { code: 'ENOSPC' });
      fs.writes++;
      fs.files.set(p, Buffer.from(d));
    },
  };
  return fs;
}

const P = '/state/replay.json';

describe('channel/nonce-store', () => {
  let clock = 1_000_000;
  const now = () => clock;
  beforeEach(() => {
    clock = 1_000_000;
  });

  it('accepts a nonce once and remembers it across restarts', async () => {
    const fs = memoryFs();
    const s = await NonceStore.open({ path: P, fs, now });
    assert.equal(await s.record('nonce-aaaaaaaaaaaa', clock, clock + 60_000), 'fresh');
    assert.equal(await s.record('nonce-aaaaaaaaaaaa', clock, clock + 60_000), 'replayed');
    const again = await NonceStore.open({ path: P, fs, now });
    assert.equal(again.isReplay('nonce-aaaaaaaaaaaa', clock, clock + 60_000), true);
    assert.equal(await again.record('nonce-bbbbbbbbbbbb', clock, clock + 60_000), 'fresh');
  });

  it('forgets nonces once they are past expiry plus the skew', async () => {
    const fs = memoryFs();
    const s = await NonceStore.open({ path: P, fs, now, keepAfterExpiryMs: 5000 });
    await s.record('n1-aaaaaaaaaaaaaa', clock, clock + 1000);
    clock += 1000 + 5000;
    await s.record('n2-aaaaaaaaaaaaaa', clock, clock + 1000);
    assert.equal(s.size, 2, 'still inside the skew');
    clock += 1;
    await s.record('n3-aaaaaaaaaaaaaa', clock, clock + 1000);
    assert.equal(s.size, 2, 'n1 pruned');
    assert.ok(!JSON.parse(Buffer.from(fs.files.get(P)!).toString()).nonces['n1-aaaaaaaaaaaaaa']);
  });

  it('stays bounded, and refuses what it can no longer tell apart', async () => {
    const fs = memoryFs();
    const s = await NonceStore.open({ path: P, fs, now, capacity: 3 });
    for (let i = 0; i < 5; i++) assert.equal(await s.record(`nonce-${i}-aaaaaaaaaa`, clock, clock + 10_000 + i), 'fresh');
    assert.equal(s.size, 3);
    // nonce-0 and nonce-1 were evicted; their replays are still refused by the floor
    assert.equal(await s.record('nonce-0-aaaaaaaaaa', clock, clock + 10_000), 'replayed');
    assert.equal(await s.record('nonce-1-aaaaaaaaaa', clock, clock + 10_001), 'replayed');
    // a new command expiring no later than the floor is refused too; a later one is fine
    assert.equal(await s.record('other-aaaaaaaaaaaa', clock, clock + 10_001), 'replayed');
    assert.equal(await s.record('other-aaaaaaaaaaaa', clock, clock + 20_000), 'fresh');
  });

  it('does not record a nonce it could not write, and says why', async () => {
    const fs = memoryFs();
    const s = await NonceStore.open({ path: P, fs, now });
    fs.failWrites = true;
    await assert.rejects(s.record('nonce-aaaaaaaaaaaa', clock, clock + 1000), (e) => isCanopyError(e, 'ERR_NO_SPACE') && e.message.includes(P));
    assert.equal(s.isReplay('nonce-aaaaaaaaaaaa', clock, clock + 1000), false, 'not recorded');
    fs.failWrites = false;
    assert.equal(await s.record('nonce-aaaaaaaaaaaa', clock, clock + 1000), 'fresh');
  });

  it('refuses commands created before it lost an unreadable store', async () => {
    const fs = memoryFs();
    fs.files.set(P, Buffer.from('{"v":1,"nonces":{"x":'));
    const s = await NonceStore.open({ path: P, fs, now });
    assert.match(s.recovered ?? '', /unreadable/);
    assert.equal(await s.record('old-aaaaaaaaaaaaaa', clock - 1, clock + 1000), 'replayed');
    assert.equal(await s.record('new-aaaaaaaaaaaaaa', clock, clock + 1000), 'fresh');
    const reopened = await NonceStore.open({ path: P, fs, now });
    assert.equal(reopened.recovered, undefined);
    assert.equal(reopened.isReplay('older-aaaaaaaaaaaa', clock - 1, clock + 1000), true, 'the floor is persisted');
  });

  it('keeps the newest announcement per channel', async () => {
    const fs = memoryFs();
    const s = await NonceStore.open({ path: P, fs, now });
    assert.equal(await s.recordAnnouncement('stable', 100), 'newer');
    assert.equal(await s.recordAnnouncement('stable', 100), 'same');
    assert.equal(await s.recordAnnouncement('stable', 99), 'older');
    assert.equal(await s.recordAnnouncement('beta', 50), 'newer');
    const writes = fs.writes;
    assert.equal(await (await NonceStore.open({ path: P, fs, now })).recordAnnouncement('stable', 99), 'older');
    assert.equal(fs.writes, writes, 'nothing written for a refusal');
  });

  it('writes the real file atomically and leaves no temporary files', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'canopy-nonce-'));
    try {
      const path = join(dir, 'sub', 'replay.json');
      const s = await NonceStore.open({ path, fs: nodeStoreFs, now });
      await Promise.all([1, 2, 3, 4].map((i) => s.record(`concurrent-${i}-aaaaaaa`, clock, clock + 1000)));
      assert.deepEqual(readdirSync(join(dir, 'sub')), ['replay.json']);
      assert.equal(Object.keys(JSON.parse(readFileSync(path, 'utf8')).nonces).length, 4);
      writeFileSync(path, 'garbage');
      assert.ok((await NonceStore.open({ path, now })).recovered);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
