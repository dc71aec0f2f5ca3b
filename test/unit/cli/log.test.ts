import { strict as assert } from 'node:assert';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { canopy, cleanup, commitJson, ensureBuilt, initRepo, makeTree, ok, tempDir } from './cli-harness';

describe('canopy log, show, rev-parse', function () {
  let repo: string;
  let a: string;
  let b: string;
  before(() => {
    ensureBuilt();
    const dir = tempDir();
    const tree = makeTree(dir);
    repo = initRepo(dir, 'archive');
    a = commitJson(repo, tree, ['-b', 'os/main', '-s', 'first', '--body=para one\n\npara two', '--add-metadata-string=version=1.0']).checksum;
    b = commitJson(repo, tree, ['-b', 'os/main', '-s', 'second', '--timestamp=@1700003600', '--add-metadata=n=uint32 7']).checksum;
  });
  after(cleanup);

  it('log prints every commit newest first, in ostree\'s layout', () => {
    const r = ok(canopy(['log', `--repo=${repo}`, 'os/main']));
    const lines = r.stdout.split('\n');
    assert.equal(lines[0], `commit ${b}`);
    assert.equal(lines[1], `Parent:  ${a}`);
    assert.match(lines[2], /^ContentChecksum: {2}[0-9a-f]{64}$/);
    assert.equal(lines[3], 'Date:  2023-11-14 23:13:20 +0000');
    assert.deepEqual(lines.slice(4, 7), ['', '    second', '']);
    assert.equal(lines[7], `commit ${a}`);
    assert.deepEqual(lines.slice(9), ['Date:  2023-11-14 22:13:20 +0000', 'Version: 1.0', '', '    first', '', '    para one', '    ', '    para two', '', '']);
  });

  it('log --json lists the commits with typed metadata', () => {
    const j = ok(canopy(['log', `--repo=${repo}`, '--json', 'os/main'])).json();
    assert.equal(j.truncated, false);
    assert.deepEqual(j.commits.map((c: { checksum: string }) => c.checksum), [b, a]);
    assert.equal(j.commits[0].parent, a);
    assert.equal(j.commits[0].date, '2023-11-14T23:13:20Z');
    assert.deepEqual(j.commits[0].metadata.n, { type: 'u', value: 7 });
    assert.equal(j.commits[1].version, '1.0');
    assert.equal(j.commits[1].body, 'para one\n\npara two');
  });

  it('show prints one commit; --print-metadata-key prints one value; --raw the whole variant', () => {
    const text = ok(canopy(['show', `--repo=${repo}`, 'os/main'])).stdout;
    assert.match(text, new RegExp(`^commit ${b}\nParent:  ${a}\n`));
    assert.ok(!text.includes(`commit ${a}`));
    assert.equal(ok(canopy(['show', `--repo=${repo}`, '--print-metadata-key=version', 'os/main^'])).stdout, "'1.0'\n");
    assert.equal(ok(canopy(['show', `--repo=${repo}`, '--print-metadata-key=n', 'os/main'])).stdout, 'uint32 7\n');
    assert.deepEqual(ok(canopy(['show', `--repo=${repo}`, '--json', '--print-metadata-key=n', b])).json(), { checksum: b, key: 'n', type: 'u', value: 7 });
    const missing = canopy(['show', `--repo=${repo}`, '--print-metadata-key=nope', 'os/main']);
    assert.equal(missing.status, 3);
    assert.match(missing.stderr, /has no metadata key "nope"/);
    const raw = ok(canopy(['show', `--repo=${repo}`, '--raw', a])).stdout;
    assert.match(raw, new RegExp(`^commit ${a}\n\\(\\{'version': <'1\\.0'>, 'ostree\\.ref-binding': <\\['os/main'\\]>\\}, @ay \\[\\], @a\\(say\\) \\[\\], 'first', 'para one\\\\n\\\\npara two', uint64 1700000000, \\[byte 0x`));
  });

  it('rev-parse resolves refs, checksums and ^ parents; -S needs a single commit', () => {
    assert.equal(ok(canopy(['rev-parse', `--repo=${repo}`, 'os/main'])).stdout, `${b}\n`);
    assert.equal(ok(canopy(['rev-parse', `--repo=${repo}`, 'os/main^'])).stdout, `${a}\n`);
    assert.equal(ok(canopy(['rev-parse', `--repo=${repo}`, b])).stdout, `${b}\n`);
    assert.deepEqual(ok(canopy(['rev-parse', `--repo=${repo}`, '--json', 'os/main^'])).json(), { rev: 'os/main^', checksum: a });
    const tooFar = canopy(['rev-parse', `--repo=${repo}`, 'os/main^^']);
    assert.equal(tooFar.status, 3);
    assert.match(tooFar.stderr, /has no parent/);
    assert.equal(canopy(['rev-parse', `--repo=${repo}`, '-S']).status, 3, 'two commits: -S fails');
  });

  it('a missing ref exits with the not-found status in every reader', () => {
    for (const cmd of [['log'], ['show'], ['rev-parse'], ['ls'], ['cat', '/x'], ['checkout']]) {
      const args = [cmd[0], `--repo=${repo}`, 'no/such/ref', ...cmd.slice(1)];
      const r = canopy(args);
      assert.equal(r.status, 3, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /no ref or commit named "no\/such\/ref"/);
    }
    const j = canopy(['log', `--repo=${repo}`, '--json', 'nope']);
    assert.equal(j.status, 3);
    assert.deepEqual(j.json(), { error: { code: 'ERR_REF_NOT_FOUND', message: 'no ref or commit named "nope"', details: { rev: 'nope' } } });
    const invalid = canopy(['log', `--repo=${repo}`, '--json', 'bad ref!']);
    assert.equal(invalid.status, 1);
    assert.equal(invalid.json().error.code, 'ERR_REF_INVALID');
  });

  it('log stops where history was not fetched', () => {
    const dir = tempDir();
    const tree = makeTree(dir, false);
    const r2 = initRepo(dir, 'archive');
    const c1 = commitJson(r2, tree, ['-b', 'm']).checksum;
    const c2 = commitJson(r2, tree, ['-b', 'm', '-s', 'two']).checksum;
    rmSync(join(r2, 'objects', c1.slice(0, 2), `${c1.slice(2)}.commit`));
    const text = ok(canopy(['log', `--repo=${r2}`, 'm'])).stdout;
    assert.match(text, new RegExp(`^commit ${c2}\n`));
    assert.ok(text.endsWith('<< History beyond this commit not fetched >>\n'));
    const j = ok(canopy(['log', `--repo=${r2}`, '--json', 'm'])).json();
    assert.equal(j.truncated, true);
    assert.equal(j.commits.length, 1);
    assert.equal(canopy(['log', `--repo=${r2}`, c1]).status, 3, 'the named commit itself missing is an error');
  });
});
