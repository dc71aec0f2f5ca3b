import { strict as assert } from 'node:assert';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isCanopyError } from '../../../agent/src/core/errors';
import { writeFileDurable } from '../../../agent/src/platform/durable-file';

describe('platform/durable-file', () => {
  let dir: string;
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'canopy-durable-')); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('creates the directory and file with private modes, then replaces the file whole', () => {
    const p = join(dir, 'state', 'x.json');
    writeFileDurable(p, '{"a":1}');
    assert.equal(readFileSync(p, 'utf8'), '{"a":1}');
    assert.equal(statSync(p).mode & 0o777, 0o600);
    assert.equal(statSync(join(dir, 'state')).mode & 0o777, 0o700);
    writeFileDurable(p, Buffer.alloc(300_000, 7));
    assert.equal(readFileSync(p).length, 300_000);
    assert.deepEqual(readdirSync(join(dir, 'state')), ['x.json'], 'no temporary file is left');
  });

  it('fails with a CanopyError naming the path, leaving the old file and no temporary file', () => {
    const p = join(dir, 'x.json');
    writeFileSync(p, 'old');
    // A directory where the file should go: rename fails.
    const blocked = join(dir, 'blocked');
    writeFileDurable(join(blocked, 'inner'), 'x');
    assert.throws(() => writeFileDurable(blocked, 'new'), (e: unknown) => isCanopyError(e) && e.message.includes(blocked));
    assert.equal(readFileSync(p, 'utf8'), 'old');
    assert.deepEqual(readdirSync(dir).sort(), ['blocked', 'x.json']);
  });
});
