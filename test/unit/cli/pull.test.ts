import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { serveDirectory } from '../../helpers/http-server';
import { canopy, cleanup, CLI, ensureBuilt, initRepo, ok, tempDir } from './cli-harness';
import { makeServedRepo, type ServedRepo } from '../pull/fixture';

/** Runs the CLI without blocking this process (the HTTP server lives here). */
function canopyAsync(args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, OSTREE_REPO: '' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ status: code ?? -1, stdout, stderr }));
  });
}

describe('canopy pull and pull-local', function () {
  let dir: string;
  let s: ServedRepo;
  before(async () => {
    ensureBuilt();
    dir = tempDir();
    s = await makeServedRepo({ files: 6 });
  });
  after(() => {
    cleanup();
    if (s) rmSync(s.dir, { recursive: true, force: true });
  });

  it('uses a static delta the server offers, unless told not to', async () => {
    const served = await makeServedRepo({ files: 12, changed: 6 });
    try {
      ok(canopy(['static-delta', 'generate', `--repo=${served.path}`, `--from=${served.v1}`, `--to=${served.v2}`]));
      for (const [name, extra, expectDelta] of [['with', [], true], ['without', ['--disable-static-deltas'], false]] as const) {
        const repo = initRepo(dir, 'bare-user-only', `delta-${name}`);
        ok(canopy(['remote', 'add', `--repo=${repo}`, '--no-gpg-verify', 'origin', `file://${served.path}`]));
        ok(canopy(['pull', `--repo=${repo}`, 'origin', `main@${served.v1}`]));
        const r = ok(canopy(['pull', `--repo=${repo}`, '--json', ...extra, 'origin', 'main'])).json();
        assert.deepEqual(r.deltas, expectDelta ? [served.v2] : [], name);
        ok(canopy(['fsck', `--repo=${repo}`]));
      }
    } finally {
      rmSync(served.dir, { recursive: true, force: true });
    }
  });

  it('pulls from a file:// remote, prints what moved, and refuses a downgrade with exit status 5', () => {
    const repo = initRepo(dir, 'bare-user-only', 'c1');
    ok(canopy(['remote', 'add', `--repo=${repo}`, '--no-gpg-verify', 'origin', `file://${s.path}`]));
    const first = ok(canopy(['pull', `--repo=${repo}`, 'origin', `main@${s.v1}`]));
    assert.match(first.stdout, new RegExp(`^origin:main ${s.v1}\n\\d+ metadata, \\d+ content objects fetched`));
    const second = ok(canopy(['pull', `--repo=${repo}`, 'origin', 'main']));
    assert.match(second.stdout, new RegExp(`^origin:main ${s.v1.slice(0, 12)} -> ${s.v2}\n`));
    const down = canopy(['pull', `--repo=${repo}`, 'origin', `main@${s.v1}`]);
    assert.equal(down.status, 5, 'a downgrade is refused like an untrusted commit');
    assert.match(down.stderr, /older commit/);
    ok(canopy(['pull', `--repo=${repo}`, '--allow-downgrade', 'origin', `main@${s.v1}`]));
    ok(canopy(['fsck', `--repo=${repo}`]));
  });

  it('refuses unsigned content on a verifying remote with exit status 5 and a JSON error', () => {
    const repo = initRepo(dir, 'bare-user-only', 'c2');
    ok(canopy(['remote', 'add', `--repo=${repo}`, 'origin', `file://${s.path}`]));
    const r = canopy(['pull', '--json', `--repo=${repo}`, 'origin', 'main']);
    assert.equal(r.status, 5);
    assert.equal(r.json().error.code, 'ERR_SIGNATURE_MISSING');
    assert.equal(existsSync(join(repo, 'refs/remotes/origin/main')), false);
  });

  it('pulls over HTTP with --json, --depth and --commit-metadata-only', async () => {
    const srv = await serveDirectory(s.path);
    try {
      const repo = initRepo(dir, 'archive', 'c3');
      ok(canopy(['remote', 'add', `--repo=${repo}`, '--no-gpg-verify', 'origin', srv.url]));
      const meta = await canopyAsync(['pull', '--json', `--repo=${repo}`, '--commit-metadata-only', 'origin', 'main']);
      assert.equal(meta.status, 0, meta.stderr);
      assert.equal(JSON.parse(meta.stdout).contentFetched, 0);
      const full = await canopyAsync(['pull', '--json', `--repo=${repo}`, '--depth=1', 'origin', 'main']);
      assert.equal(full.status, 0, full.stderr);
      const j = JSON.parse(full.stdout);
      assert.deepEqual(j.refs, [{ ref: 'main', commit: s.v2, previous: s.v2, changed: false }]);
      assert.equal(j.requests, srv.log.length - JSON.parse(meta.stdout).requests);
      assert.ok(j.contentFetched > 0);
      ok(canopy(['fsck', `--repo=${repo}`]));
      assert.equal((await canopyAsync(['pull', `--repo=${repo}`, '--depth=x', 'origin'])).status, 2);
    } finally {
      await srv.close();
    }
  });

  it('pull-local copies every ref, or the ones named, into local or remote refs', () => {
    const repo = initRepo(dir, 'bare-user-only', 'c4');
    const all = ok(canopy(['pull-local', '--json', `--repo=${repo}`, s.path])).json();
    assert.deepEqual(all.refs.map((r: { ref: string }) => r.ref), ['main']);
    assert.equal(existsSync(join(repo, 'refs/heads/main')), true);
    ok(canopy(['pull-local', `--repo=${repo}`, '--remote=up', s.path, `main@${s.v1}`]));
    assert.equal(existsSync(join(repo, 'refs/remotes/up/main')), true);
    ok(canopy(['fsck', `--repo=${repo}`]));
  });
});
