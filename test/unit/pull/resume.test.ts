/**
 * A pull killed with SIGKILL and run again resumes: the rerun does not
 * fetch the objects the first run already moved into `objects/`, no ref
 * moved in between, and the repository is healthy before and after.
 */
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fsck } from '../../../agent/src/repo/fsck';
import { pull } from '../../../agent/src/pull/index';
import type { Repo } from '../../../agent/src/repo/index';
import { serveDirectory, type RepoServer } from '../../helpers/http-server';
import { assertHealthy, cleanup, makeClient, makeServedRepo, originRef, type ServedRepo } from './fixture';

function storedFiles(repo: Repo): Set<string> {
  const out = new Set<string>();
  const objects = join(repo.path, 'objects');
  for (const d of readdirSync(objects)) {
    for (const f of readdirSync(join(objects, d))) if (f.endsWith('.file')) out.add(`/objects/${d}/${f.replace(/\.file$/, '.filez')}`);
  }
  return out;
}

async function until(cond: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('pull: SIGKILL and rerun', function () {
  let s: ServedRepo;
  let srv: RepoServer;

  before(async () => {
    s = await makeServedRepo({ files: 80 });
    srv = await serveDirectory(s.path);
  });
  after(async () => {
    await srv?.close();
    cleanup(s?.dir);
  });

  it('resumes without fetching again what the killed pull stored', async function () {
    this.timeout(30000);
    const c = makeClient(s.dir, srv.url);
    srv.addFault({ match: /\.filez$/, delayMs: 25 });
    const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, 'kill-child.ts'), c.path], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((r) => child.on('exit', (_code, sig) => r(sig === 'SIGKILL' ? -9 : _code)));
    // Kill once some objects are durable in objects/ and the pull is far from done.
    await until(() => storedFiles(c).size >= 15, 20000);
    child.kill('SIGKILL');
    assert.equal(await exited, -9, `the child finished before it was killed: ${out}`);

    const before = storedFiles(c);
    const total = srv.requests((l) => l.path.endsWith('.filez')).length;
    assert.ok(before.size >= 15, `${before.size} objects stored`);
    assert.equal(originRef(c), undefined, 'no ref moved');
    const report = await fsck(c);
    assert.deepEqual([report.corrupt.length, report.missing.length], [0, 0], 'only complete objects in objects/');
    assert.deepEqual(report.partialCommits.map((p) => p.checksum), [s.v2]);

    srv.clearFaults();
    srv.resetLog();
    const r = await pull(c, 'origin', ['main']);
    const refetched = srv.requests((l) => before.has(l.path));
    assert.deepEqual(refetched, [], 'objects the killed pull stored are not fetched again');
    assert.ok(r.contentFetched > 0 && r.contentFetched + before.size >= 80, `rerun fetched ${r.contentFetched}; first run asked for ${total}`);
    assert.equal(originRef(c), s.v2);
    await assertHealthy(c);
  });
});
