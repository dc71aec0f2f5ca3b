import { strict as assert } from 'node:assert';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { canopy, cleanup, commitJson, ensureBuilt, initRepo, makeTree, ok, tempDir } from './cli-harness';

describe('canopy summary', function () {
  before(() => ensureBuilt());
  after(cleanup);

  it('-u writes the summary with extra metadata; -v and --json show it', () => {
    const dir = tempDir();
    const tree = makeTree(dir, false);
    const repo = initRepo(dir, 'archive');
    const c = commitJson(repo, tree, ['-b', 'os/main', '--add-metadata-string=version=2.1']).checksum;
    assert.equal(canopy(['summary', `--repo=${repo}`, '-v']).status, 3, 'no summary yet');
    const u = ok(canopy(['summary', `--repo=${repo}`, '--json', '-u', "--add-metadata=channel='stable'", '-m', 'n=5'])).json();
    assert.equal(u.refs, 1);
    assert.ok(existsSync(join(repo, 'summary')));
    const text = ok(canopy(['summary', `--repo=${repo}`, '--view'])).stdout;
    assert.match(text, new RegExp(`^\\* os/main\\n {4}Latest Commit \\(\\d+ bytes\\):\\n {6}${c}\\n`));
    assert.match(text, /^ {4}Version \(ostree\.commit\.version\): 2\.1$/m);
    assert.match(text, /^ {4}Timestamp \(ostree\.commit\.timestamp\): 2023-11-14T22:13:20\+00$/m);
    assert.match(text, /^channel: 'stable'$/m);
    assert.match(text, /^n: 5$/m);
    assert.match(text, /^Repository Mode \(ostree\.summary\.mode\): archive-z2$/m);
    const j = ok(canopy(['summary', `--repo=${repo}`, '--json', '-v'])).json();
    assert.deepEqual(j.refs.map((r: { name: string; checksum: string; timestamp: number }) => [r.name, r.checksum, r.timestamp]), [['os/main', c, 1700000000]]);
    assert.deepEqual(j.metadata.channel, { type: 's', value: 'stable' });
    assert.deepEqual(j.metadata.n, { type: 'i', value: 5 });
  });

  it('needs -u or -v, and well-formed metadata', () => {
    const dir = tempDir();
    const repo = initRepo(dir, 'archive');
    assert.equal(canopy(['summary', `--repo=${repo}`]).status, 2);
    const bad = canopy(['summary', `--repo=${repo}`, '-u', '--add-metadata=k=[]']);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--add-metadata k: .*cannot infer the type of an empty array/);
  });
});
