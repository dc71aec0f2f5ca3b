/**
 * The static-delta seam: a DeltaSource is asked first for each target the
 * repository lacks; what it stores is not fetched again, anything it leaves
 * out is fetched as objects, the commit it carries goes through the same
 * verification, and it is never asked when deltas are off or the target is
 * an archive repository.
 */
import { strict as assert } from 'node:assert';
import { isCanopyError } from '../../../agent/src/core/errors';
import { ObjectType } from '../../../agent/src/objects/index';
import { Transaction } from '../../../agent/src/repo/index';
import { pull, type DeltaRequest, type DeltaSource } from '../../../agent/src/pull/index';
import { walkTreesOf } from './walk-trees';
import { serveDirectory, type RepoServer } from '../../helpers/http-server';
import { assertHealthy, cleanup, makeClient, makeServedRepo, originRef, type ServedRepo } from './fixture';

describe('pull: the static-delta seam', () => {
  let s: ServedRepo;
  let srv: RepoServer;
  before(async () => {
    s = await makeServedRepo({ files: 10 });
    srv = await serveDirectory(s.path);
  });
  after(async () => {
    await srv?.close();
    cleanup(s?.dir);
  });
  beforeEach(() => srv.resetLog());

  /** A fake delta that stores the commit and every dirtree and dirmeta of the target (no content). */
  function metadataDelta(calls: DeltaRequest[], opts: { corruptCommit?: boolean } = {}): DeltaSource {
    return {
      name: 'fake',
      async tryApply(req) {
        calls.push(req);
        const bytes = Buffer.from(s.repo.readMetadataBytes(ObjectType.COMMIT, req.to));
        if (opts.corruptCommit) bytes[bytes.length - 1] ^= 1;
        await req.acceptCommit(bytes, undefined);
        for (const [type, c] of walkTreesOf(s.repo, req.to)) {
          await req.writer.writeMetadata(type, c, s.repo.readMetadataBytes(type, c));
        }
        assert.ok((await req.fetch('deltas/none/superblock', { optional: true })) === undefined, 'fetch goes through the pull');
        return { applied: true };
      },
    };
  }

  it('uses what the delta stored and fetches only the rest', async () => {
    const calls: DeltaRequest[] = [];
    const c = makeClient(s.dir, srv.url);
    const r = await pull(c, 'origin', [`main@${s.v1}`], { deltaSource: metadataDelta(calls) });
    assert.deepEqual(r.deltas, [s.v1]);
    assert.equal(calls.length, 1);
    assert.deepEqual([calls[0].to, calls[0].from, calls[0].ref], [s.v1, undefined, 'main']);
    assert.ok(!srv.log.some((l) => /\.(commit|dirtree|dirmeta)$/.test(l.path)), 'no metadata object fetched');
    assert.ok(srv.log.some((l) => l.path.endsWith('.filez')));
    assert.ok(srv.log.some((l) => l.path === '/deltas/none/superblock' && l.status === 404));
    await assertHealthy(c);

    calls.length = 0;
    await pull(c, 'origin', ['main'], { deltaSource: metadataDelta(calls) });
    assert.equal(calls[0].from, s.v1, 'the complete commit of the ref is offered as the start');
    assert.equal(originRef(c), s.v2);
    await assertHealthy(c);
  });

  it('does not fetch again what a delta committed to the repository itself (as the real applier does)', async () => {
    const direct: DeltaSource = {
      name: 'direct',
      async tryApply(req) {
        await req.acceptCommit(Buffer.from(s.repo.readMetadataBytes(ObjectType.COMMIT, req.to)), undefined);
        const tx = new Transaction(req.repo);
        for (const [type, c] of walkTreesOf(s.repo, req.to)) {
          tx.writeMetadata(type, s.repo.readMetadataBytes(type, c));
          if (type !== ObjectType.DIR_TREE) continue;
          for (const f of s.repo.loadDirTree(c).files) {
            if (tx.has(f.checksum, ObjectType.FILE)) continue;
            const { header, content } = s.repo.readFileObject(f.checksum);
            await tx.writeFileObject(f.checksum, header, content);
          }
        }
        tx.commit();
        return { applied: true };
      },
    };
    const c = makeClient(s.dir, srv.url);
    const r = await pull(c, 'origin', [`main@${s.v1}`], { deltaSource: direct });
    assert.deepEqual(r.deltas, [s.v1]);
    assert.deepEqual([r.metadataFetched, r.contentFetched], [0, 0], 'the walk after the delta finds everything present');
    assert.ok(!srv.log.some((l) => /\.(dirtree|dirmeta|filez)$/.test(l.path)), 'no object fetched');
    await assertHealthy(c);
  });

  it('verifies the commit a delta carries like any other', async () => {
    const c = makeClient(s.dir, srv.url);
    await assert.rejects(pull(c, 'origin', ['main'], { deltaSource: metadataDelta([], { corruptCommit: true }) }), (e) => isCanopyError(e, 'ERR_CHECKSUM_MISMATCH'));
    assert.equal(c.hasObject(s.v2, ObjectType.COMMIT), false);
    const signed = makeClient(s.dir, srv.url, 'bare-user-only', {});
    await assert.rejects(pull(signed, 'origin', ['main'], { deltaSource: metadataDelta([]) }), (e) => isCanopyError(e, 'ERR_SIGNATURE_MISSING'));
  });

  it('falls back to objects when the delta is not applied, and is not asked when deltas are off or for archive repos', async () => {
    const calls: DeltaRequest[] = [];
    const none: DeltaSource = { name: 'none', async tryApply(req) {
      calls.push(req);
      return { applied: false, reason: 'no delta for this commit' };
    } };
    const c = makeClient(s.dir, srv.url);
    const r = await pull(c, 'origin', ['main'], { deltaSource: none });
    assert.deepEqual(r.deltas, []);
    assert.equal(calls.length, 1);
    assert.ok(srv.log.some((l) => l.path.endsWith('.commit')));
    await assertHealthy(c);
    await pull(makeClient(s.dir, srv.url), 'origin', ['main'], { deltaSource: none, disableStaticDeltas: true });
    await pull(makeClient(s.dir, srv.url, 'archive'), 'origin', ['main'], { deltaSource: none });
    await pull(makeClient(s.dir, srv.url), 'origin', ['main'], { deltaSource: none, commitMetadataOnly: true });
    assert.equal(calls.length, 1);
  });
});
