/**
 * The real ostree (2022.7 here and in CI) as the oracle for the CLI: the
 * same command line gives the same commit checksum, and ostree's log, ls,
 * show, fsck and summary read what canopy wrote the way canopy does.
 */
import { strict as assert } from 'node:assert';
import { join } from 'node:path';
import { canopy, cleanup, ensureBuilt, hasOstree, isRoot, makeTree, ok, ostree, tempDir } from './cli-harness';

const COMMIT_ARGS = [
  '-b', 'os/main', '--subject=Release 1.0', '--body=First line\n\nSecond paragraph', '--timestamp=2023-01-01 00:00:00 +0000',
  '--add-metadata-string=version=1.0', '--add-metadata-string=os.channel=stable', '--add-metadata=build=42', "--add-metadata=origin='ci'",
];

interface LsLine { type: string; mode: number; uid: number; gid: number; size: number; checksum: string; metaChecksum?: string; xattrs: string; path: string; target?: string }

/** Parses `ostree ls -R -C -X` output. */
function parseOstreeLs(text: string): LsLine[] {
  return text.trimEnd().split('\n').map((line) => {
    const m = /^([-dl])0(\d{4}) (\d+) (\d+) +(\d+) ([0-9a-f]{64}) (?:([0-9a-f]{64}) )?\{ (.*) \} (\/.*?)(?: -> (.*))?$/.exec(line);
    assert.ok(m, `unexpected ostree ls line: ${line}`);
    const type = m[1] === 'd' ? 'dir' : m[1] === 'l' ? 'symlink' : 'file';
    return {
      type, mode: parseInt(m[2], 8), uid: Number(m[3]), gid: Number(m[4]), size: Number(m[5]), checksum: m[6],
      ...(m[7] ? { metaChecksum: m[7] } : {}), xattrs: m[8], path: m[9], ...(m[10] !== undefined ? { target: m[10] } : {}),
    };
  });
}

/** Parses `ostree log` output into commits. */
function parseOstreeLog(text: string): Array<{ checksum: string; parent?: string; date: string; version?: string; text: string[] }> {
  const out: Array<{ checksum: string; parent?: string; date: string; version?: string; text: string[] }> = [];
  for (const line of text.split('\n')) {
    const c = /^commit ([0-9a-f]{64})$/.exec(line);
    if (c) out.push({ checksum: c[1], date: '', text: [] });
    else if (line.startsWith('Parent:  ')) out[out.length - 1].parent = line.slice(9);
    else if (line.startsWith('Date:  ')) out[out.length - 1].date = line.slice(7);
    else if (line.startsWith('Version: ')) out[out.length - 1].version = line.slice(9);
    else if (line.startsWith('    ')) out[out.length - 1].text.push(line.slice(4));
  }
  return out;
}

describe('canopy CLI against the real ostree', function () {
  const MODES = ['archive', 'bare', 'bare-user-only'];
  const commits = new Map<string, { canopy: string[]; ostree: string[] }>();
  let dir: string;
  let tree: string;
  before(function () {
    if (!hasOstree()) {
      console.log('    (skipped: ostree is not installed; Debian package "ostree")');
      this.skip();
    }
    ensureBuilt();
    dir = tempDir();
    tree = makeTree(dir);
    // The same two commits in each mode, by each tool; the tests below compare them.
    for (const mode of MODES) {
      if (mode === 'bare' && !isRoot()) continue;
      const mine = join(dir, `canopy-${mode}`);
      const theirs = join(dir, `ostree-${mode}`);
      ok(canopy(['init', `--repo=${mine}`, `--mode=${mode}`]));
      ok(ostree(['init', `--repo=${theirs}`, `--mode=${mode}`]));
      const next = ['-b', 'os/main', '-s', 'two', '--timestamp=@1700000000'];
      commits.set(mode, {
        canopy: [ok(canopy(['commit', `--repo=${mine}`, ...COMMIT_ARGS, tree])).stdout, ok(canopy(['commit', `--repo=${mine}`, ...next, tree])).stdout],
        ostree: [ok(ostree(['commit', `--repo=${theirs}`, ...COMMIT_ARGS, tree])).stdout, ok(ostree(['commit', `--repo=${theirs}`, ...next, tree])).stdout],
      });
    }
  });
  after(cleanup);

  for (const mode of MODES) {
    it(`canopy commit gives ostree commit's checksum in ${mode} mode (metadata strings, int, string)`, function () {
      if (mode === 'bare' && !isRoot()) this.skip();
      const { canopy: mine, ostree: theirs } = commits.get(mode)!;
      assert.match(mine[0], /^[0-9a-f]{64}\n$/);
      assert.equal(mine[0], theirs[0]);
      // the second commit on the branch takes the first as its parent in both
      assert.equal(mine[1], theirs[1]);
      // ostree fsck accepts what canopy wrote
      ok(ostree(['fsck', `--repo=${join(dir, `canopy-${mode}`)}`]));
    });
  }

  it('reads --timestamp like ostree: local time under TZ, zones, epoch', () => {
    const mine = join(dir, 'ts-canopy');
    const theirs = join(dir, 'ts-ostree');
    ok(canopy(['init', `--repo=${mine}`, '--mode=archive']));
    ok(ostree(['init', `--repo=${theirs}`, '--mode=archive']));
    for (const ts of ['2023-01-01', '2023-06-15 12:34', '2023-01-01T12:34:56+0100', '2023-01-01 12:34:56 -05', '@1700000000.9', '2023-1-2 3:04:05']) {
      const args = ['--orphan', '--no-bindings', `--timestamp=${ts}`, tree];
      const env = { TZ: 'Europe/Paris' };
      assert.equal(ok(canopy(['commit', `--repo=${mine}`, ...args], { env })).stdout, ok(ostree(['commit', `--repo=${theirs}`, ...args], { env })).stdout, ts);
    }
  });

  for (const mode of ['archive', 'bare-user-only']) {
    it(`ostree log, show and ls read a canopy ${mode} repository as canopy does`, () => {
      const repo = join(dir, `canopy-${mode}`);
      // log: same commits, parents, dates, versions, subject and body
      const theirs = parseOstreeLog(ok(ostree(['log', `--repo=${repo}`, 'os/main'])).stdout);
      const mine = ok(canopy(['log', `--repo=${repo}`, '--json', 'os/main'])).json().commits;
      assert.equal(theirs.length, 2);
      assert.deepEqual(theirs.map((c) => c.checksum), mine.map((c: { checksum: string }) => c.checksum));
      assert.equal(theirs[0].parent, mine[0].parent);
      assert.equal(theirs[1].version, '1.0');
      assert.equal(mine[1].version, '1.0');
      assert.equal(theirs[1].date, '2023-01-01 00:00:00 +0000');
      assert.equal(mine[1].timestamp, 1672531200);
      // indented lines: the subject, then the body (its blank line indented too)
      assert.deepEqual(theirs[1].text, ['Release 1.0', 'First line', '', 'Second paragraph']);
      assert.equal(mine[1].subject, theirs[1].text[0]);
      assert.equal(mine[1].body, theirs[1].text.slice(1).join('\n'));
      // canopy's text log is ostree's, line for line
      assert.equal(ok(canopy(['log', `--repo=${repo}`, 'os/main'])).stdout, ok(ostree(['log', `--repo=${repo}`, 'os/main'])).stdout);
      assert.equal(ok(canopy(['show', `--repo=${repo}`, 'os/main^'])).stdout, ok(ostree(['show', `--repo=${repo}`, 'os/main^'])).stdout);

      // metadata: the same values under the same keys (-B: ostree would byte-swap integers)
      const show = ok(canopy(['show', `--repo=${repo}`, '--json', 'os/main^'])).json();
      assert.deepEqual(Object.keys(show.metadata), ['version', 'os.channel', 'build', 'origin', 'ostree.ref-binding']);
      for (const key of Object.keys(show.metadata)) {
        const o = ok(ostree(['show', `--repo=${repo}`, '-B', `--print-metadata-key=${key}`, 'os/main^'])).stdout;
        const c = ok(canopy(['show', `--repo=${repo}`, `--print-metadata-key=${key}`, 'os/main^'])).stdout;
        assert.equal(c, o, key);
      }
      assert.deepEqual(show.metadata.build, { type: 'i', value: 42 });
      assert.deepEqual(show.metadata.origin, { type: 's', value: 'ci' });

      // ls: the same entries, fields and checksums
      const oLs = parseOstreeLs(ok(ostree(['ls', `--repo=${repo}`, '-R', '-C', '-X', 'os/main'])).stdout);
      const cLs = ok(canopy(['ls', `--repo=${repo}`, '--json', '-R', '-X', 'os/main'])).json().entries;
      assert.equal(oLs.length, 9);
      assert.deepEqual(
        cLs.map((e: LsLine) => [e.path, e.type, e.mode, e.uid, e.gid, e.size, e.checksum, e.metaChecksum, e.target]),
        oLs.map((e) => [e.path, e.type, e.mode, e.uid, e.gid, e.size, e.checksum, e.metaChecksum, e.target]),
      );
      // and the text is ostree's, xattrs included
      assert.equal(ok(canopy(['ls', `--repo=${repo}`, '-R', '-C', '-X', 'os/main'])).stdout, ok(ostree(['ls', `--repo=${repo}`, '-R', '-C', '-X', 'os/main'])).stdout);
    });
  }

  it('canopy reads what ostree wrote: refs, rev-parse, ls, cat, fsck', () => {
    const repo = join(dir, 'ostree-archive');
    assert.equal(ok(canopy(['refs', `--repo=${repo}`])).stdout, ok(ostree(['refs', `--repo=${repo}`])).stdout);
    assert.equal(ok(canopy(['rev-parse', `--repo=${repo}`, 'os/main^'])).stdout, ok(ostree(['rev-parse', `--repo=${repo}`, 'os/main^'])).stdout);
    assert.equal(ok(canopy(['cat', `--repo=${repo}`, 'os/main', '/etc/os-release'])).stdout, ok(ostree(['cat', `--repo=${repo}`, 'os/main', '/etc/os-release'])).stdout);
    assert.equal(ok(canopy(['ls', `--repo=${repo}`, '-R', '-C', 'os/main'])).stdout, ok(ostree(['ls', `--repo=${repo}`, '-R', '-C', 'os/main'])).stdout);
    assert.match(ok(canopy(['fsck', `--repo=${repo}`])).stdout, /no errors found/);
  });

  it('ostree summary --view reads a canopy summary; canopy summary -v reads an ostree one', () => {
    const mine = join(dir, 'canopy-archive');
    const theirs = join(dir, 'ostree-archive');
    ok(canopy(['summary', `--repo=${mine}`, '-u', "--add-metadata=channel='stable'"]));
    ok(ostree(['summary', `--repo=${theirs}`, '-u', "--add-metadata=channel='stable'"]));
    for (const repo of [mine, theirs]) {
      const o = ok(ostree(['summary', `--repo=${repo}`, '-v'], { env: { TZ: 'UTC' } })).stdout;
      const c = ok(canopy(['summary', `--repo=${repo}`, '-v'])).stdout;
      const refBlock = (s: string): string => s.slice(0, s.indexOf('\n\n'));
      assert.equal(refBlock(c), refBlock(o));
      assert.match(o, /^channel: 'stable'$/m);
      assert.match(c, /^channel: 'stable'$/m);
    }
  });
});
