import { strict as assert } from 'node:assert';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { CanopyError } from '../../../agent/src/core/errors';
import { ObjectType, archiveHeaderBytes, fileChecksum, objectRelPath, type FileHeader } from '../../../agent/src/objects/index';
import { verifyContentObjects, type ContentVerdict } from '../../../agent/src/repo/fsck-content';
import { Repo } from '../../../agent/src/repo/repo';
import type { ListedObject } from '../../../agent/src/repo/walk';
import { scratch } from './maintenance-fixture';

const REG: FileHeader = { uid: 0, gid: 0, mode: 0o100644, symlinkTarget: '', xattrs: [] };

/** Writes a `.filez` whose header says `declared` bytes, holding DEFLATE of `content`. */
function putFilez(repo: Repo, checksum: string, content: Buffer, declared = content.length): ListedObject {
  const relPath = objectRelPath(checksum, ObjectType.FILE, 'archive');
  mkdirSync(join(repo.path, relPath, '..'), { recursive: true });
  writeFileSync(join(repo.path, relPath), Buffer.concat([archiveHeaderBytes(REG, declared), deflateRawSync(content)]));
  return { checksum, type: ObjectType.FILE, relPath };
}

/** Whether the suite below runs with the worker-thread pool (workerThreshold 1) or without it. */
let useWorkers = false;

async function verdicts(repo: Repo, objs: ListedObject[], streamThreshold?: number): Promise<Map<string, ContentVerdict>> {
  const out = new Map<string, ContentVerdict>();
  let last = 0;
  await verifyContentObjects(repo, objs, (o, v) => out.set(o.checksum, v), (n) => { last = n; }, streamThreshold, useWorkers ? 1 : Number.MAX_SAFE_INTEGER);
  assert.equal(last, objs.length, 'progress reaches the total');
  return out;
}

const code = (v: ContentVerdict | undefined): string => (v instanceof CanopyError ? v.code : String(v));

for (const workers of [false, true]) describe(`repo/fsck-content (${workers ? 'worker threads' : 'main thread'})`, () => {
  let s: ReturnType<typeof scratch>;
  let repo: Repo;
  beforeEach(() => {
    useWorkers = workers;
    s = scratch();
    repo = Repo.init(join(s.dir, 'repo'), { mode: 'archive' });
  });
  afterEach(() => s.cleanup());

  it('accepts good objects on every path: inline, pool and streamed', async () => {
    const small = Buffer.from('small\n');
    const mid = Buffer.alloc(300_000, 3); // above the inline limit: inflated on the pool
    const objs = [putFilez(repo, fileChecksum(REG, small), small), putFilez(repo, fileChecksum(REG, mid), mid)];
    for (const t of [undefined, 1000]) {
      const v = await verdicts(repo, objs, t);
      assert.deepEqual([...v.values()], ['ok', 'ok'], `streamThreshold ${t}`);
    }
  });

  it('reports content that inflates fine but hashes to another checksum', async () => {
    const o = putFilez(repo, fileChecksum(REG, Buffer.from('the original\n')), Buffer.from('the tampered\n'));
    const v = (await verdicts(repo, [o])).get(o.checksum);
    assert.equal(code(v), 'ERR_CHECKSUM_MISMATCH');
    assert.equal((v as CanopyError).details.actual, fileChecksum(REG, Buffer.from('the tampered\n')));
  });

  it('stops a decompression bomb at the size its header declares', async () => {
    const bomb = Buffer.alloc(4 << 20);
    for (const [declared, threshold] of [[10, undefined], [200_000, undefined], [10, 1000]] as const) {
      const o = putFilez(repo, 'a'.repeat(64), bomb, declared);
      const v = (await verdicts(repo, [o], threshold)).get(o.checksum);
      assert.equal(code(v), 'ERR_OBJECT_INVALID', `declared ${declared}, threshold ${threshold}: ${String(v)}`);
    }
  });

  it('reports a header that promises more than the data holds', async () => {
    const o = putFilez(repo, 'b'.repeat(64), Buffer.from('abc'), 1_000_000_000_000);
    const v = (await verdicts(repo, [o])).get(o.checksum);
    assert.equal(code(v), 'ERR_OBJECT_INVALID');
    assert.match((v as CanopyError).message, /inflates to 3 bytes/);
  });

  it('reports garbage DEFLATE data and a truncated header as invalid', async () => {
    const o1 = putFilez(repo, 'c'.repeat(64), Buffer.from('hello'));
    const p1 = join(repo.path, o1.relPath);
    writeFileSync(p1, Buffer.concat([archiveHeaderBytes(REG, 5), Buffer.from([0xff, 0xff, 0xff, 0xff])]));
    const o2 = putFilez(repo, 'd'.repeat(64), Buffer.from('x'));
    writeFileSync(join(repo.path, o2.relPath), Buffer.from([0, 0, 0, 40, 0, 0]));
    const v = await verdicts(repo, [o1, o2]);
    assert.equal(code(v.get(o1.checksum)), 'ERR_OBJECT_INVALID');
    assert.equal(code(v.get(o2.checksum)), 'ERR_OBJECT_INVALID');
  });

  it('says vanished for an object deleted while fsck runs, and refuses a directory', async () => {
    const gone = putFilez(repo, 'e'.repeat(64), Buffer.from('x'));
    rmSync(join(repo.path, gone.relPath));
    const bare = Repo.init(join(s.dir, 'bare'), { mode: 'bare-user-only' });
    const rel = objectRelPath('f'.repeat(64), ObjectType.FILE, 'bare-user-only');
    mkdirSync(join(bare.path, rel), { recursive: true });
    assert.equal((await verdicts(repo, [gone])).get(gone.checksum), 'vanished');
    const v = (await verdicts(bare, [{ checksum: 'f'.repeat(64), type: ObjectType.FILE, relPath: rel }])).get('f'.repeat(64));
    assert.equal(code(v), 'ERR_FILE_TYPE');
  });
});
