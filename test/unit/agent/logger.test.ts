/** JSON lines with level filtering and a level raised for a while. */
import { strict as assert } from 'node:assert';
import { isLogLevel, jsonLogger } from '../../../agent/src/agent/logger';

describe('agent/logger', () => {
  it('writes one JSON object per line and drops lines below the level', () => {
    const lines: string[] = [];
    const log = jsonLogger({ level: 'info', write: (l) => lines.push(l), now: () => 0 });
    log.debug('hidden');
    log.info('shown', { commit: 'c', n: 1 });
    log.error('bad');
    assert.equal(lines.length, 2);
    assert.ok(lines.every((l) => l.endsWith('\n') && !l.slice(0, -1).includes('\n')));
    assert.deepEqual(JSON.parse(lines[0]), { time: '1970-01-01T00:00:00.000Z', level: 'info', msg: 'shown', commit: 'c', n: 1 });
    assert.ok(isLogLevel('trace') && !isLogLevel('verbose'));
  });

  it('a temporary level falls back by itself', async () => {
    const lines: string[] = [];
    const log = jsonLogger({ level: 'warn', write: (l) => lines.push(l) });
    log.setLevel('debug', 30);
    assert.equal(log.level, 'debug');
    log.debug('now visible');
    await new Promise((r) => setTimeout(r, 60));
    assert.equal(log.level, 'warn');
    log.debug('hidden again');
    assert.deepEqual(lines.map((l) => JSON.parse(l).msg), ['now visible']);
    log.close();
  });
});
