/**
 * The state file: atomic replacement (no temporary file left, the old state
 * intact when a write fails), no write when nothing changed, and strict,
 * bounded loading.
 */
import { strict as assert } from 'node:assert';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MAX_STATE_FILE, STATE_FILE, StateStore, checkState } from '../../../agent/src/agent/persist';
import { initialState } from '../../../agent/src/agent/states';
import { isCanopyError } from '../../../agent/src/core/errors';
import { stateIn } from './fixtures';

describe('agent/persist', () => {
  let dir = '';
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'canopy-persist-')); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('saves atomically, skips unchanged states, and loads what it saved', () => {
    const store = new StateStore(join(dir, 'state'));
    assert.equal(store.load(), undefined, 'no file: no state');
    const s = stateIn('downloading');
    assert.equal(store.save(s), true);
    assert.equal(store.save(JSON.parse(JSON.stringify(s))), false, 'the same state is not written again');
    assert.deepEqual(readdirSync(join(dir, 'state')), [STATE_FILE], 'no temporary file is left');
    assert.deepEqual(new StateStore(join(dir, 'state')).load(), s);
    assert.equal(store.save({ ...s, phase: { name: 'idle' } }), true);
    assert.equal(JSON.parse(readFileSync(join(dir, 'state', STATE_FILE), 'utf8')).phase.name, 'idle');
  });

  it('a failed write leaves the previous state in place', function () {
    if (process.getuid?.() === 0) {
      console.log('      skipped: root writes into read-only directories');
      this.skip();
    }
    const store = new StateStore(dir);
    store.save(stateIn('staged'));
    chmodSync(dir, 0o500);
    try {
      assert.throws(() => store.save(stateIn('rebooting')), (e) => isCanopyError(e, 'ERR_PERMISSION'));
    } finally {
      chmodSync(dir, 0o700);
    }
    assert.equal(new StateStore(dir).load()?.phase.name, 'staged');
  });

  it('refuses files that are not JSON, not a state, too large, or have an unknown phase or a bad commit', () => {
    const bad = (text: string | Buffer, why: RegExp): void => {
      writeFileSync(join(dir, STATE_FILE), text);
      assert.throws(() => new StateStore(dir).load(), (e) => isCanopyError(e, 'ERR_STATE_INVALID') && why.test((e as Error).message));
    };
    bad('{', /not JSON/);
    bad('[]', /not an agent state/);
    bad(JSON.stringify({ ...initialState(), v: 2 }), /version 1/);
    bad(JSON.stringify({ ...initialState(), phase: { name: 'sleeping' } }), /phase/);
    bad(JSON.stringify({ ...stateIn('downloading'), phase: { name: 'downloading', attempt: 0 } }), /no target/);
    bad(JSON.stringify({ ...stateIn('idle'), running: { commit: 'abc' } }), /running/);
    bad(Buffer.alloc(MAX_STATE_FILE + 1, 0x20), /larger than/);
    assert.doesNotThrow(() => checkState(JSON.parse(JSON.stringify(stateIn('rolling-back')))));
  });

  it('quarantine keeps a bad file under another name', () => {
    writeFileSync(join(dir, STATE_FILE), 'junk');
    const to = new StateStore(dir).quarantine(1234);
    assert.equal(to, join(dir, `${STATE_FILE}.bad-1234`));
    assert.deepEqual(readdirSync(dir), [`${STATE_FILE}.bad-1234`]);
  });
});
