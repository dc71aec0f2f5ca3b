import { strict as assert } from 'node:assert';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { canopy, cleanup, commitJson, ensureBuilt, initRepo, makeTree, ok, tempDir } from './cli-harness';

describe('canopy commit', function () {
  let dir: string;
  let tree: string;
  before(() => {
    ensureBuilt();
    dir = tempDir();
    tree = makeTree(dir);
  });
  after(cleanup);

  it('commits a tree, moves the branch and chains parents', () => {
    const repo = initRepo(dir, 'archive', 'chain');
    const first = commitJson(repo, tree, ['-b', 'os/main']);
    assert.match(first.checksum, /^[0-9a-f]{64}$/);
    assert.equal(first.parent, null);
    assert.equal(first.branch, 'os/main');
    assert.equal(first.files, 4);
    assert.equal(first.symlinks, 1);
    assert.equal(first.dirs, 4);
    assert.equal(first.timestamp, 1700000000);
    assert.ok((first.objectsWritten as number) > 5);
    const second = commitJson(repo, tree, ['-b', 'os/main', '-s', 'again']);
    assert.equal(second.parent, first.checksum);
    assert.equal(second.objectsWritten, 1, 'only the new commit object is written');
    assert.equal(ok(canopy(['rev-parse', `--repo=${repo}`, 'os/main'])).stdout, `${second.checksum}\n`);
    // text mode prints just the checksum, like ostree commit
    const third = ok(canopy(['commit', `--repo=${repo}`, '-b', 'os/main', '--timestamp=@1700000001', `--tree=dir=${tree}`]));
    assert.match(third.stdout, /^[0-9a-f]{64}\n$/);
  });

  it('honours --parent=none, --parent=CSUM and --orphan', () => {
    const repo = initRepo(dir, 'archive', 'parents');
    const a = commitJson(repo, tree, ['-b', 'x']);
    assert.equal(commitJson(repo, tree, ['-b', 'x', '--parent=none', '-s', 'p']).parent, null);
    assert.equal(commitJson(repo, tree, ['-b', 'y', `--parent=${a.checksum}`]).parent, a.checksum);
    const orphan = commitJson(repo, tree, ['--orphan', '-s', 'orphan']);
    assert.equal(orphan.branch, null);
    assert.equal(orphan.parent, null);
    const refs = ok(canopy(['refs', `--repo=${repo}`])).stdout;
    assert.equal(refs, 'x\ny\n', 'an orphan commit writes no ref');
    // --orphan with a branch: the ref moves, but the commit has no parent (as ostree)
    assert.equal(commitJson(repo, tree, ['--orphan', '-b', 'x', '-s', 'o2']).parent, null);
  });

  it('stores metadata strings, then GVariant values, then the binding, in that order', () => {
    const repo = initRepo(dir, 'archive', 'md');
    const c = commitJson(repo, tree, [
      '-b', 'md', '--add-metadata=n=42', '--add-metadata-string=version=1.0', '--add-metadata=big=uint64 5000000000',
      '--add-metadata-string=foo=a=b', "--add-metadata=list=['a', 'b']", '--add-metadata=empty=@as []', '--bind-ref=other',
    ]);
    const show = ok(canopy(['show', `--repo=${repo}`, '--json', c.checksum])).json();
    assert.deepEqual(Object.keys(show.metadata), ['version', 'foo', 'n', 'big', 'list', 'empty', 'ostree.ref-binding']);
    assert.deepEqual(show.metadata.foo, { type: 's', value: 'a=b' }, 'only the first = splits');
    assert.deepEqual(show.metadata.n, { type: 'i', value: 42 });
    assert.deepEqual(show.metadata.big, { type: 't', value: 5000000000 });
    assert.deepEqual(show.metadata.list, { type: 'as', value: ['a', 'b'] });
    assert.deepEqual(show.metadata.empty, { type: 'as', value: [] });
    assert.deepEqual(show.metadata['ostree.ref-binding'], { type: 'as', value: ['md', 'other'] });
    assert.equal(show.version, '1.0');
    const none = commitJson(repo, tree, ['-b', 'md', '--no-bindings']);
    assert.deepEqual(ok(canopy(['show', `--repo=${repo}`, '--json', none.checksum])).json().metadata, {});
  });

  it('adds the collection binding when the repository has a collection id, unless given', () => {
    const repo = join(dir, 'cid');
    ok(canopy(['init', `--repo=${repo}`, '--mode=archive', '--collection-id=org.example.Os']));
    const c = commitJson(repo, tree, ['-b', 'main']);
    const md = ok(canopy(['show', `--repo=${repo}`, '--json', c.checksum])).json().metadata;
    assert.deepEqual(md['ostree.collection-binding'], { type: 's', value: 'org.example.Os' });
    const own = commitJson(repo, tree, ['-b', 'main', '--add-metadata-string=ostree.collection-binding=org.other']);
    const md2 = ok(canopy(['show', `--repo=${repo}`, '--json', own.checksum])).json().metadata;
    assert.deepEqual(Object.keys(md2), ['ostree.collection-binding', 'ostree.ref-binding']);
    assert.equal(md2['ostree.collection-binding'].value, 'org.other');
  });

  it('reads the body from --body-file and the subject from -s', () => {
    const repo = initRepo(dir, 'archive', 'body');
    writeFileSync(join(dir, 'msg'), 'line one\nline two\n');
    const c = commitJson(repo, tree, ['-b', 'b', '-s', 'Subject', '-F', join(dir, 'msg')]);
    const show = ok(canopy(['show', `--repo=${repo}`, '--json', c.checksum])).json();
    assert.equal(show.subject, 'Subject');
    assert.equal(show.body, 'line one\nline two\n');
  });

  it('parses --timestamp like ostree (epoch, ISO with zones, local time)', () => {
    const repo = initRepo(dir, 'archive', 'ts');
    const at = (ts: string, tz = 'UTC'): number => ok(canopy(['commit', `--repo=${repo}`, '--json', '-b', 't', `--timestamp=${ts}`, tree], { env: { TZ: tz } })).json().timestamp;
    assert.equal(at('@1700000000'), 1700000000);
    assert.equal(at('2023-01-01 00:00:00 +0000'), 1672531200);
    assert.equal(at('2023-01-01T12:34:56Z'), 1672576496);
    assert.equal(at('2023-01-01T12:34:56+01:00'), 1672572896);
    assert.equal(at('2023-01-01 12:34:56', 'Europe/Paris'), 1672572896);
    assert.equal(at('2023-01-01', 'UTC'), 1672531200);
  });

  it('refuses bad command lines with exit 2 and says why', () => {
    const repo = initRepo(dir, 'archive', 'bad');
    const bad = (args: string[], msg: RegExp): void => {
      const r = canopy(['commit', `--repo=${repo}`, ...args]);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, msg);
    };
    bad([tree], /a branch must be given with --branch, or use --orphan/);
    bad(['-b', 'x', '--add-metadata=n', tree], /--add-metadata needs KEY=VALUE/);
    bad(['-b', 'x', '--add-metadata=n=(1, 2)', tree], /--add-metadata n: .*tuples are not supported/);
    bad(['-b', 'x', '--add-metadata=n=3000000000', tree], /out of range for type i/);
    bad(['-b', 'x', '--add-metadata-string=noequals', tree], /--add-metadata-string needs KEY=VALUE/);
    bad(['-b', 'x', '--timestamp=next tuesday', tree], /cannot parse date "next tuesday"/);
    bad(['-b', 'x', '--parent=abc', tree], /--parent needs a full commit checksum or "none"/);
    bad(['-b', 'x', '--tree=tar=foo.tar'], /--tree=tar=… is not supported/);
    bad(['-b', 'x', `--tree=dir=${tree}`, tree], /either as PATH or as --tree=dir=PATH/);
    bad(['-b', 'x', '--canonical-permissions', '--owner-uid=5', tree], /--canonical-permissions cannot be combined/);
    bad(['-b', 'x', '--owner-uid=-1', tree], /--owner-uid needs an integer >= 0/);
    bad(['-b', 'x', tree, 'other'], /unexpected operand "other"/);
    assert.equal(ok(canopy(['refs', `--repo=${repo}`])).stdout, '', 'nothing was committed');
  });

  it('fails with exit 1 and nothing written when the tree does not exist', () => {
    const repo = initRepo(dir, 'archive', 'missing');
    const r = canopy(['commit', `--repo=${repo}`, '--json', '-b', 'x', join(dir, 'no-such-tree')]);
    assert.equal(r.status, 1);
    assert.equal(r.json().error.code, 'ERR_IO');
    assert.equal(ok(canopy(['refs', `--repo=${repo}`])).stdout, '');
  });
});
