/**
 * The same tree committed by `canopy` (commitTree) and by the real `ostree
 * commit`, with the same subject, body, timestamp and metadata, gives the
 * same commit checksum in every repository mode, and `ostree fsck` accepts
 * the repository canopy wrote.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { variant } from '../../agent/src/gvariant/index';
import { commitTree } from '../../agent/src/repo/commit-tree';
import { Repo } from '../../agent/src/repo/repo';
import { buildNastyTree, type NastyTree } from '../helpers/nasty-tree';

function ostree(...args: string[]): string {
  const r = spawnSync('ostree', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ostree ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
}

describe('interop: commit checksums equal ostree commit', function () {
  let dir: string;
  let tree: NastyTree;

  before(function () {
    if (spawnSync('ostree', ['--version']).error) this.skip();
    dir = mkdtempSync(join(tmpdir(), 'canopy-commit-interop-'));
    tree = buildNastyTree(dir);
  });
  after(() => {
    tree?.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  for (const mode of ['archive', 'bare', 'bare-user-only'] as const) {
    it(`${mode}: same checksum as ostree commit, and ostree fsck accepts the repo`, async function () {
      if (mode === 'bare' && process.getuid?.() !== 0) this.skip();
      const oRepo = join(dir, `ostree-${mode}`);
      ostree(`--repo=${oRepo}`, 'init', `--mode=${mode}`);
      const expected = ostree(`--repo=${oRepo}`, 'commit', '-b', 'os/main', '-s', 'subject line', '--body', 'a body\nwith two lines',
        '--timestamp=2023-06-01 12:00:00 +0000', '--add-metadata-string=version=1.0', '--add-metadata-string=k=v',
        '--add-metadata=n=42', `--tree=dir=${tree.root}`);

      const repo = Repo.init(join(dir, `canopy-${mode}`), { mode });
      const res = await commitTree(repo, tree.root, {
        branch: 'os/main', subject: 'subject line', body: 'a body\nwith two lines', timestamp: Date.UTC(2023, 5, 1, 12) / 1000,
        metadata: [['version', variant('s', '1.0')], ['k', variant('s', 'v')], ['n', variant('i', 42)]],
        // Send big.bin through the streaming path too.
        largeFileThreshold: 1 << 20,
      });
      assert.equal(res.checksum, expected);
      assert.match(ostree('fsck', `--repo=${repo.path}`), /no errors found/);
      // A second commit on top (with a parent) agrees as well.
      const second = ostree(`--repo=${oRepo}`, 'commit', '-b', 'os/main', '-s', 'two', '--timestamp=2023-06-02 00:00:00 +0000', `--tree=dir=${tree.root}`);
      const res2 = await commitTree(repo, tree.root, { branch: 'os/main', subject: 'two', timestamp: Date.UTC(2023, 5, 2) / 1000 });
      assert.equal(res2.checksum, second);
      assert.equal(res2.objectsWritten, 1);
    });
  }

  it('ostree log and ls read what canopy committed', async () => {
    const repo = Repo.init(join(dir, 'canopy-read'), { mode: 'archive' });
    const res = await commitTree(repo, tree.root, { branch: 'os/main', subject: 'hello', metadata: [['version', variant('s', '7')]], timestamp: 1700000000 });
    const log = ostree(`--repo=${repo.path}`, 'log', 'os/main');
    assert.match(log, new RegExp(`commit ${res.checksum}`));
    assert.match(log, /Version: 7/);
    assert.match(log, /hello/);
    const ls = ostree(`--repo=${repo.path}`, 'ls', '-R', 'os/main');
    assert.match(ls, /\/hello\.txt/);
    assert.match(ls, /\/bin\/su/);
  });
});
