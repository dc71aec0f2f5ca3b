import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, symlinkSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isCanopyError } from '../../../agent/src/core/errors';
import { ObjectType } from '../../../agent/src/objects/index';
import { commitTree } from '../../../agent/src/repo/commit-tree';
import { listRefs, readRef, resolveRev, writeRef } from '../../../agent/src/repo/refs';
import { Repo } from '../../../agent/src/repo/repo';
import { cleanStaleStaging } from '../../../agent/src/repo/transaction';

const code = (c: string) => (e: unknown): boolean => isCanopyError(e, c as never);

describe('repo', () => {
  let dir: string;
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'canopy-repo-')); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const tree = (): string => {
    const t = join(dir, 'tree');
    mkdirSync(join(t, 'sub/deeper'), { recursive: true });
    writeFileSync(join(t, 'hello.txt'), 'hello\n');
    writeFileSync(join(t, 'sub/deeper/empty'), '');
    symlinkSync('../hello.txt', join(t, 'sub/link'));
    chmodSync(join(t, 'hello.txt'), 0o644);
    return t;
  };

  it('init writes the layout ostree makes and refuses to init twice', () => {
    const r = Repo.init(join(dir, 'r'), { mode: 'archive' });
    for (const d of ['objects', 'refs/heads', 'refs/remotes', 'refs/mirrors', 'state', 'tmp', 'extensions']) assert.ok(existsSync(join(r.path, d)), d);
    assert.equal(readFileSync(join(r.path, 'config'), 'utf8'), '[core]\nrepo_version=1\nmode=archive-z2\n');
    assert.throws(() => Repo.init(join(dir, 'r'), { mode: 'bare' }), code('ERR_REPO_EXISTS'));
  });

  it('open refuses what is not a repository, and unsupported modes', () => {
    assert.throws(() => Repo.open(dir), code('ERR_REPO_INVALID'));
    const r = Repo.init(join(dir, 'r'), { mode: 'bare' });
    writeFileSync(join(r.path, 'config'), '[core]\nrepo_version=1\nmode=bare-user\n');
    assert.throws(() => Repo.open(r.path), code('ERR_REPO_MODE'));
  });

  for (const mode of ['archive', 'bare-user-only'] as const) {
    it(`commits and reads back every object (${mode})`, async () => {
      const r = Repo.init(join(dir, 'r'), { mode });
      const res = await commitTree(r, tree(), { branch: 'os/main', subject: 'one', timestamp: 1000 });
      assert.equal(readRef(r, 'os/main'), res.checksum);
      const c = r.loadCommit(res.checksum);
      assert.equal(c.subject, 'one');
      const root = r.loadDirTree(c.rootTree);
      assert.deepEqual(root.files.map((f) => f.name), ['hello.txt']);
      const hello = r.readFileObject(root.files[0].checksum);
      assert.equal(hello.content.toString(), 'hello\n');
      // A second commit of the same tree adds only the commit object.
      const again = await commitTree(r, join(dir, 'tree'), { branch: 'os/main', subject: 'two', timestamp: 2000 });
      assert.equal(again.objectsWritten, 1);
      assert.equal(r.loadCommit(again.checksum).parent, res.checksum);
      assert.equal(resolveRev(r, 'os/main^', (x) => r.loadCommit(x).parent), res.checksum);
    });
  }

  it('detects a corrupted metadata object on read', async () => {
    const r = Repo.init(join(dir, 'r'), { mode: 'archive' });
    const res = await commitTree(r, tree(), { branch: 'b', timestamp: 1 });
    const c = r.loadCommit(res.checksum);
    const p = r.objectPath(c.rootTree, ObjectType.DIR_TREE);
    const bytes = readFileSync(p);
    bytes[bytes.length - 40] ^= 1;
    writeFileSync(p, bytes);
    assert.throws(() => r.loadDirTree(c.rootTree), code('ERR_CHECKSUM_MISMATCH'));
  });

  it('refs: invalid names are refused, lists are sorted, deletes work', () => {
    const r = Repo.init(join(dir, 'r'), { mode: 'archive' });
    const c = 'c'.repeat(64);
    for (const bad of ['', '/x', 'a//b', 'a/../b', '-x', 'a b']) assert.throws(() => writeRef(r, bad, c), code('ERR_REF_INVALID'), bad);
    writeRef(r, 'z/b', c);
    writeRef(r, 'a', c);
    writeRef(r, 'main', c, 'origin');
    assert.deepEqual(listRefs(r).map((x) => x.name), ['a', 'z/b']);
    assert.deepEqual(listRefs(r, { all: true }).map((x) => `${x.remote ?? ''}:${x.name}`), [':a', ':z/b', 'origin:main']);
    assert.equal(resolveRev(r, 'main', () => undefined), c);
    writeRef(r, 'a', undefined);
    assert.equal(readRef(r, 'a'), undefined);
    assert.throws(() => resolveRev(r, 'nope', () => undefined), code('ERR_REF_NOT_FOUND'));
  });

  it('a failed commit adds no object and moves no ref', async () => {
    const r = Repo.init(join(dir, 'r'), { mode: 'archive' });
    const t = tree();
    const first = await commitTree(r, t, { branch: 'b', timestamp: 1 });
    const before = readdirSync(join(r.path, 'objects'), { recursive: true }).length;
    writeFileSync(join(t, 'new-file'), 'x');
    // A name OSTree cannot store makes the commit fail after part of the tree was hashed.
    mkdirSync(join(t, 'zz'));
    writeFileSync(Buffer.concat([Buffer.from(join(t, 'zz') + '/'), Buffer.from([0x66, 0xff])]), 'bad');
    await assert.rejects(commitTree(r, t, { branch: 'b', timestamp: 2 }), (e: unknown) => isCanopyError(e));
    assert.equal(readRef(r, 'b'), first.checksum);
    assert.equal(readdirSync(join(r.path, 'objects'), { recursive: true }).length, before);
    assert.deepEqual(readdirSync(r.tmpDir).filter((n) => n.startsWith('staging-')), []);
  });

  it('a commit killed with SIGKILL leaves only complete objects; the next one cleans up', async function () {
    this.timeout(60000);
    const r = Repo.init(join(dir, 'r'), { mode: 'archive' });
    const t = join(dir, 'big');
    mkdirSync(t);
    for (let i = 0; i < 400; i++) writeFileSync(join(t, `f${i}`), Buffer.alloc(40000, i));
    const script = `import { Repo } from ${JSON.stringify(join(process.cwd(), 'agent/src/repo/repo.ts'))};
      import { commitTree } from ${JSON.stringify(join(process.cwd(), 'agent/src/repo/commit-tree.ts'))};
      await commitTree(Repo.open(${JSON.stringify(r.path)}), ${JSON.stringify(t)}, { branch: 'b', onProgress: () => process.stdout.write('p') });`;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((res) => child.stdout.once('data', () => res()));
    child.kill('SIGKILL');
    await new Promise((res) => child.once('exit', res));
    assert.equal(readRef(r, 'b'), undefined, 'no ref moved');
    // Whatever reached objects/ is complete: every metadata object verifies.
    for (const f of readdirSync(join(r.path, 'objects'), { recursive: true }) as string[]) {
      if (!f.includes('.')) continue;
      const [d, rest] = f.split('/');
      if (f.endsWith('.dirtree')) r.loadDirTree(d + rest.split('.')[0]);
      if (f.endsWith('.filez')) r.readFileObject(d + rest.split('.')[0]);
    }
    assert.ok(cleanStaleStaging(r) >= 0);
    const res = await commitTree(r, t, { branch: 'b' });
    assert.equal(readRef(r, 'b'), res.checksum);
    assert.deepEqual(readdirSync(r.tmpDir).filter((n) => n.startsWith('staging-')), []);
  });
});
