/**
 * The puller against a real HTTP server on 127.0.0.1 and file:// remotes:
 * what it fetches, what it stores, which refs move.
 */
import { strict as assert } from 'node:assert';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isCanopyError } from '../../../agent/src/core/errors';
import { ObjectType } from '../../../agent/src/objects/index';
import { pull, pullLocal, type PullProgress } from '../../../agent/src/pull/index';
import { commitTree, Repo, writeRef } from '../../../agent/src/repo/index';
import { serveDirectory, type RepoServer } from '../../helpers/http-server';
import { assertHealthy, cleanup, makeClient, makeServedRepo, originRef, T1, T2, writeSummary, type ServedRepo } from './fixture';

const isObject = (p: string): boolean => p.startsWith('/objects/');

describe('pull (objects over HTTP and file://)', function () {
  let s: ServedRepo;
  let srv: RepoServer;

  before(async () => {
    s = await makeServedRepo();
    srv = await serveDirectory(s.path);
  });
  after(async () => {
    await srv?.close();
    cleanup(s?.dir);
  });
  beforeEach(() => {
    srv.resetLog();
    srv.clearFaults();
  });

  it('pulls a ref over HTTP into bare-user-only: summary, commit, tree, content; fsck passes', async () => {
    const c = makeClient(s.dir, srv.url);
    const progress: PullProgress[] = [];
    const r = await pull(c, 'origin', ['main'], { onProgress: (p) => progress.push(p) });
    assert.equal(originRef(c), s.v2);
    assert.deepEqual(r.refs, [{ ref: 'main', commit: s.v2, previous: undefined, changed: true }]);
    assert.equal(r.verified, false, 'the remote has verification off');
    const paths = srv.log.map((l) => l.path);
    assert.deepEqual(paths.slice(0, 2).sort(), ['/summary', '/summary.sig'], 'the summary and its signature first, as ostree');
    assert.ok(paths.includes(`/objects/${s.v2.slice(0, 2)}/${s.v2.slice(2)}.commitmeta`));
    assert.equal(r.requests, srv.log.length);
    assert.equal(r.bytesTransferred, srv.bytesSent());
    assert.equal(new Set(paths).size, paths.length, 'no path fetched twice');
    assert.equal(r.metadataFetched + r.contentFetched + 1, srv.log.filter((l) => l.path.endsWith('.filez') || l.path.endsWith('.dirtree') || l.path.endsWith('.dirmeta') || l.path.endsWith('.commit')).length);
    const last = progress.at(-1)!;
    assert.equal(last.phase, 'finishing');
    assert.equal(last.objectsDone, r.metadataFetched + r.contentFetched);
    assert.ok(progress.some((p) => p.phase === 'objects' && p.objectsTotal > 0 && p.etaSeconds !== undefined));
    await assertHealthy(c);
  });

  it('an update pull fetches only the objects the new commit adds; a second pull fetches none', async () => {
    const c = makeClient(s.dir, srv.url);
    await pull(c, 'origin', [`main@${s.v1}`]);
    assert.equal(originRef(c), s.v1);
    const fullV1 = srv.log.filter((l) => isObject(l.path)).length;
    srv.resetLog();
    const r = await pull(c, 'origin', ['main']);
    assert.deepEqual(r.refs[0], { ref: 'main', commit: s.v2, previous: s.v1, changed: true });
    const fetched = srv.log.filter((l) => l.path.endsWith('.filez'));
    assert.ok(fetched.length > 0 && fetched.length < fullV1 / 2, `update fetched ${fetched.length} content objects`);
    for (const l of fetched) {
      const csum = l.path.slice(9, 11) + l.path.slice(12, 74);
      assert.equal(s.repo.hasObject(csum, ObjectType.FILE), true);
    }
    srv.resetLog();
    const again = await pull(c, 'origin', ['main']);
    assert.equal(again.refs[0].changed, false);
    assert.equal(again.contentFetched + again.metadataFetched, 0);
    assert.deepEqual(srv.log.map((l) => `${l.path} ${l.status}`).slice(0, 2).sort(), ['/summary 304', '/summary.sig 404'], 'no signature to compare: the cached summary is revalidated');
    assert.ok(srv.log.every((l) => !l.path.endsWith('.filez') && !l.path.endsWith('.dirtree')), 'nothing of the tree again');
    await assertHealthy(c);
  });

  it('pulls into an archive repo storing the .filez exactly as served', async () => {
    const c = makeClient(s.dir, srv.url, 'archive');
    await pull(c, 'origin', ['main']);
    const objs = join(s.path, 'objects');
    let compared = 0;
    for (const d of readdirSync(join(c.path, 'objects'))) {
      for (const f of readdirSync(join(c.path, 'objects', d))) {
        if (!f.endsWith('.filez')) continue;
        assert.ok(readFileSync(join(c.path, 'objects', d, f)).equals(readFileSync(join(objs, d, f))), f);
        compared++;
      }
    }
    assert.ok(compared > 40);
    await assertHealthy(c);
  });

  it('pulls from a file:// remote, a pinned commit, and a bare commit checksum (no ref)', async () => {
    const c = makeClient(s.dir, `file://${s.path}`);
    const r = await pull(c, 'origin', [`main@${s.v1}`, s.v2]);
    assert.equal(originRef(c), s.v1);
    assert.deepEqual(r.commits, [s.v2]);
    assert.equal(c.hasObject(s.v2, ObjectType.COMMIT), true);
    assert.equal(srv.log.length, 0);
    await assertHealthy(c);
  });

  it('splits url and contenturl: summary, refs and .commitmeta from url, every object from contenturl', async () => {
    const mirror = await serveDirectory(s.path);
    try {
      const c = makeClient(s.dir, srv.url, 'bare-user-only', { noGpgVerify: true, set: [['contenturl', mirror.url]] });
      await pull(c, 'origin', ['main']);
      assert.ok(srv.log.every((l) => l.path === '/summary.sig' || l.path === '/summary' || l.path.endsWith('.commitmeta')), srv.log.map((l) => l.path).join(' '));
      assert.ok(mirror.log.length > 40 && mirror.log.every((l) => isObject(l.path) && !l.path.endsWith('.commitmeta')));
      assert.ok(mirror.log.some((l) => l.path.endsWith('.commit')));
      await assertHealthy(c);
    } finally {
      await mirror.close();
    }
  });

  it('works without a summary: refs/heads/<ref>', async () => {
    srv.addFault({ match: '/summary', status: 404 });
    const c = makeClient(s.dir, srv.url);
    await pull(c, 'origin', ['main']);
    assert.equal(originRef(c), s.v2);
    assert.ok(srv.log.some((l) => l.path === '/refs/heads/main' && l.status === 200));
    srv.resetLog();
    await assert.rejects(pull(c, 'origin', ['nope']), (e) => isCanopyError(e, 'ERR_REF_NOT_FOUND'));
  });

  it('asks for summary.sig and summary at once when there is no cached signature to compare', async () => {
    const c = makeClient(s.dir, srv.url);
    srv.addFault({ match: '/summary.sig', delayMs: 300 });
    srv.resetLog();
    await pull(c, 'origin', ['main']);
    const order = srv.log.map((l) => l.path).filter((p) => p === '/summary' || p === '/summary.sig');
    assert.deepEqual(order, ['/summary', '/summary.sig'], 'the summary was answered while its signature was still delayed');
    assert.equal(originRef(c), s.v2);
  });

  it('caches the summary: unchanged summary.sig means no summary download; a changed summary is fetched', async () => {
    const sig = join(s.path, 'summary.sig');
    writeFileSync(sig, Buffer.from('not checked: verification is off'));
    try {
      const c = makeClient(s.dir, srv.url);
      await pull(c, 'origin', ['main']);
      assert.ok(existsSync(join(c.path, 'tmp/cache/summaries/origin')));
      assert.ok(existsSync(join(c.path, 'tmp/cache/summaries/origin.sig')));
      srv.resetLog();
      await pull(c, 'origin', ['main']);
      assert.deepEqual(srv.log.slice(0, 2).map((l) => `${l.path} ${l.status}`), ['/summary.sig 304', '/objects/' + s.v2.slice(0, 2) + '/' + s.v2.slice(2) + '.commitmeta 404']);
      assert.ok(srv.log[0].ifNoneMatch, 'the cached ETag was sent');
      // A new summary with a new signature: fetched again.
      srv.override('/summary.sig', Buffer.from('another signature'));
      srv.resetLog();
      await pull(c, 'origin', ['main']);
      assert.deepEqual(srv.log.slice(0, 2).map((l) => `${l.path} ${l.status}`), ['/summary.sig 200', '/summary 200']);
    } finally {
      srv.override('/summary.sig', undefined);
      writeFileSync(sig, '');
      const { rmSync } = await import('node:fs');
      rmSync(sig);
    }
  });

  it('commitMetadataOnly stores the verified commit only, partial, and moves the ref; a full pull completes it', async () => {
    const c = makeClient(s.dir, srv.url);
    const r = await pull(c, 'origin', ['main'], { commitMetadataOnly: true });
    assert.equal(r.metadataFetched + r.contentFetched, 0);
    assert.equal(originRef(c), s.v2);
    assert.equal(existsSync(join(c.path, 'state', `${s.v2}.commitpartial`)), true);
    await assertHealthy(c, { partial: [s.v2] });
    await pull(c, 'origin', ['main']);
    assert.equal(existsSync(join(c.path, 'state', `${s.v2}.commitpartial`)), false);
    await assertHealthy(c);
  });

  it('depth pulls parents with their trees; a parent the server lacks ends the history', async () => {
    const c = makeClient(s.dir, srv.url);
    await pull(c, 'origin', ['main'], { depth: 1 });
    assert.equal(c.hasObject(s.v1, ObjectType.COMMIT), true);
    await assertHealthy(c);
    const c2 = makeClient(s.dir, srv.url);
    srv.addFault({ match: `/objects/${s.v1.slice(0, 2)}/${s.v1.slice(2)}.commit`, status: 404 });
    await pull(c2, 'origin', ['main'], { depth: -1 });
    assert.equal(c2.hasObject(s.v1, ObjectType.COMMIT), false);
    assert.equal(originRef(c2), s.v2);
    await assertHealthy(c2);
    const c3 = makeClient(s.dir, srv.url);
    await pull(c3, 'origin', ['main']);
    assert.equal(c3.hasObject(s.v1, ObjectType.COMMIT), false, 'depth 0: no parent');
  });

  it('refuses to move a ref backwards (rollback) unless allowDowngrade', async () => {
    const c = makeClient(s.dir, srv.url);
    await pull(c, 'origin', ['main']);
    await assert.rejects(pull(c, 'origin', [`main@${s.v1}`]), (e) => isCanopyError(e, 'ERR_DOWNGRADE') && /older commit/.test(e.message));
    assert.equal(originRef(c), s.v2);
    await pull(c, 'origin', [`main@${s.v1}`], { allowDowngrade: true });
    assert.equal(originRef(c), s.v1);
    await assertHealthy(c);
  });

  it('refuses a commit bound to another ref (a server swapping branches)', async () => {
    // The summary claims `other` points at main's commit, which is bound to `main` only.
    writeRef(s.repo, 'other', s.v2);
    writeSummary(s.repo);
    try {
      const c = makeClient(s.dir, srv.url);
      await assert.rejects(pull(c, 'origin', ['other']), (e) => isCanopyError(e, 'ERR_REF_BINDING'));
      assert.equal(originRef(c, 'other'), undefined);
      assert.equal(c.hasObject(s.v2, ObjectType.COMMIT), false, 'refused before storing');
    } finally {
      writeRef(s.repo, 'other', undefined);
      writeSummary(s.repo);
    }
  });

  it('reports missing remotes and refs clearly', async () => {
    const c = makeClient(s.dir, srv.url);
    await assert.rejects(pull(c, 'nosuch', ['main']), (e) => isCanopyError(e, 'ERR_REMOTE_NOT_FOUND'));
    await assert.rejects(pull(c, 'origin', ['nope']), (e) => isCanopyError(e, 'ERR_REF_NOT_FOUND') && /nope/.test(e.message));
    await assert.rejects(pull(c, 'origin', []), (e) => isCanopyError(e, 'ERR_INVALID_ARGUMENT'));
  });

  it('pullLocal copies between repositories of any mode and writes local refs', async () => {
    const mid = Repo.init(join(s.dir, 'local-mid'), { mode: 'bare-user-only' });
    const r = await pullLocal(s.path, mid, ['main']);
    assert.deepEqual(r.refs.map((x) => [x.ref, x.commit]), [['main', s.v2]]);
    await assertHealthy(mid);
    const back = Repo.init(join(s.dir, 'local-back'), { mode: 'archive' });
    await pullLocal(mid.path, back, ['main'], { remote: 'origin' });
    assert.equal(originRef(back), s.v2);
    await assertHealthy(back);
    await assert.rejects(pullLocal(s.path, mid, ['nope']), (e) => isCanopyError(e, 'ERR_REF_NOT_FOUND'));
  });
});

describe('pull: the walk of an update', function () {
  let dir: string;
  let server: Repo;
  let srv: RepoServer;
  let v1: string;
  let v2: string;
  /** The dirtrees of `tree` below the root, by path. */
  const treesOf = (repo: Repo, commit: string): Map<string, string> => {
    const out = new Map<string, string>();
    const visit = (tree: string, path: string): void => {
      for (const d of repo.loadDirTree(tree).dirs) {
        out.set(`${path}${d.name}`, d.tree);
        visit(d.tree, `${path}${d.name}/`);
      }
    };
    visit(repo.loadCommit(commit).rootTree, '');
    return out;
  };
  /** Counts the dirtrees the pull reads from the client's objects/. */
  const spyLoads = (c: Repo): string[] => {
    const loaded: string[] = [];
    const load = c.loadDirTree.bind(c);
    c.loadDirTree = (x: string) => {
      loaded.push(x);
      return load(x);
    };
    return loaded;
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'canopy-walk-'));
    server = Repo.init(join(dir, 'server'), { mode: 'archive' });
    for (const [v, text] of [['t1', 'one'], ['t2', 'two']]) {
      for (const d of ['app', 'lib/a/deep', 'lib/b', 'share/doc']) mkdirSync(join(dir, v, d), { recursive: true });
      writeFileSync(join(dir, v, 'app/version'), text);
      writeFileSync(join(dir, v, 'lib/a/deep/x'), 'x');
      writeFileSync(join(dir, v, 'lib/b/y'), 'y');
      writeFileSync(join(dir, v, 'share/doc/z'), 'z');
    }
    v1 = (await commitTree(server, join(dir, 't1'), { branch: 'main', subject: 'v1', timestamp: T1, canonicalPermissions: true })).checksum;
    v2 = (await commitTree(server, join(dir, 't2'), { branch: 'main', subject: 'v2', timestamp: T2, canonicalPermissions: true })).checksum;
    writeSummary(server);
    srv = await serveDirectory(server.path);
  });
  after(async () => {
    await srv?.close();
    cleanup(dir);
  });

  it('reads only the directories that changed since the complete commit the ref points to', async () => {
    const c = makeClient(dir, srv.url);
    await pull(c, 'origin', [`main@${v1}`]);
    const loaded = spyLoads(c);
    await pull(c, 'origin', ['main']);
    assert.equal(originRef(c), v2);
    const old = treesOf(server, v1);
    const unchanged = ['lib', 'lib/a', 'lib/a/deep', 'lib/b', 'share', 'share/doc'].map((p) => old.get(p)!);
    assert.deepEqual(loaded.filter((t) => unchanged.includes(t)), [], 'no unchanged directory is read');
    assert.deepEqual(loaded, [server.loadCommit(v1).rootTree, old.get('app')], 'only the base side of what changed');
    await assertHealthy(c);
  });

  it('walks everything when the current commit is partial, and fetches what it lacks', async () => {
    const c = makeClient(dir, srv.url);
    await pull(c, 'origin', [`main@${v1}`]);
    // An interrupted pull of v1: a file under an unchanged directory is missing.
    const y = server.loadDirTree(treesOf(server, v1).get('lib/b')!).files[0].checksum;
    rmSync(join(c.path, 'objects', y.slice(0, 2), `${y.slice(2)}.file`));
    writeFileSync(join(c.path, 'state', `${v1}.commitpartial`), '');
    const loaded = spyLoads(c);
    srv.resetLog();
    await pull(c, 'origin', ['main']);
    assert.ok(loaded.includes(treesOf(server, v1).get('lib/b')!), 'the unchanged directories are read too');
    assert.ok(srv.log.some((l) => l.path === `/objects/${y.slice(0, 2)}/${y.slice(2)}.filez`), 'the missing file is fetched');
    await assertHealthy(c, { partial: [v1] });
  });
});
