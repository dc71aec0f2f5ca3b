import assert from 'node:assert/strict';
import { readFile, writeFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { isCanopyError } from '../../../agent/src/core/errors';
import {
  REJECTED_MAX, forgetRejected, isRejected, readRejectedCommits, rejectCommit,
} from '../../../agent/src/health/rejected-commits';
import { COMMIT_A, COMMIT_B, tempRoot } from './fixtures';

describe('health/rejected-commits', () => {
  let root = '';
  let cleanup = async (): Promise<void> => {};
  beforeEach(async () => {
    ({ root, cleanup } = await tempRoot());
  });
  afterEach(() => cleanup());

  it('remembers a commit until it is forgotten, once per commit, written atomically', async () => {
    const dir = join(root, 'state');
    assert.equal(await isRejected(dir, COMMIT_A), false);
    assert.equal(await rejectCommit(dir, { commit: COMMIT_A, reason: 'health-check', check: '20-app', time: 't1' }), true);
    assert.equal(await rejectCommit(dir, { commit: COMMIT_A, reason: 'health-check', check: '20-app', time: 't2' }), false);
    assert.equal(await rejectCommit(dir, { commit: COMMIT_B, reason: 'tries-exhausted', check: null, time: 't3' }), true);
    assert.equal(await isRejected(dir, COMMIT_A), true);
    assert.deepEqual((await readRejectedCommits(dir)).map((e) => [e.commit, e.time]), [[COMMIT_A, 't1'], [COMMIT_B, 't3']]);
    assert.deepEqual(JSON.parse(await readFile(join(dir, 'rejected-commits.json'), 'utf8')).version, 1);
    assert.deepEqual(await readdir(dir), ['rejected-commits.json']);
    assert.equal(await forgetRejected(dir, COMMIT_A), true);
    assert.equal(await forgetRejected(dir, COMMIT_A), false);
    assert.equal(await isRejected(dir, COMMIT_A), false);
    assert.equal(await isRejected(dir, COMMIT_B), true);
  });

  it(`keeps the newest ${REJECTED_MAX}`, async () => {
    for (let i = 0; i < REJECTED_MAX + 3; i++) {
      await rejectCommit(root, { commit: i.toString(16).padStart(64, '0'), reason: 'not-recorded', check: null, time: String(i) });
    }
    const list = await readRejectedCommits(root);
    assert.equal(list.length, REJECTED_MAX);
    assert.equal(list[0].time, '3');
  });

  it('refuses bad commits and malformed files with stable codes', async () => {
    await assert.rejects(isRejected(root, 'ABC'), (e: unknown) => isCanopyError(e, 'ERR_CHECKSUM_INVALID'));
    for (const text of ['{', '[]', '{"version": 2, "rejected": []}', '{"version": 1, "rejected": [{"commit": "x"}]}',
      `{"version": 1, "rejected": [{"commit": "${COMMIT_A}", "reason": "whim", "check": null, "time": "t"}]}`]) {
      await writeFile(join(root, 'rejected-commits.json'), text);
      await assert.rejects(readRejectedCommits(root), (e: unknown) => isCanopyError(e, 'ERR_STATE_INVALID'), text);
    }
    await writeFile(join(root, 'rejected-commits.json'), ' '.repeat(1024 * 1024 + 1));
    await assert.rejects(readRejectedCommits(root), (e: unknown) => isCanopyError(e, 'ERR_STATE_INVALID'));
  });
});
