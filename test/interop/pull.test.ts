/**
 * Pull interoperability with the real `ostree` (2022.7 in CI) over HTTP,
 * with OpenPGP signatures made by GnuPG keys in a temporary home:
 *
 * - `ostree pull` with gpg-verify (keys from `ostree remote add
 *   --gpg-import`) accepts a commit that Canopy committed and signed, and
 *   refuses it when the signature is wrong;
 * - `canopy pull` accepts and verifies what `ostree commit` + `ostree
 *   gpg-sign` produced, and refuses unsigned, tampered and wrongly signed
 *   commits;
 * - what either side pulled checks out identical to the source tree, and
 *   the pulled repositories pass `ostree fsck`.
 *
 * The trees are the "nasty" tree (setuid files, a file capability, foreign
 * owners, xattrs, odd names) when running as root into `bare` repositories.
 */
import { strict as assert } from 'node:assert';
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isCanopyError } from '../../agent/src/core/errors';
import { ObjectType } from '../../agent/src/objects/index';
import { importRemoteGpgKeys, pull } from '../../agent/src/pull/index';
import { checkout } from '../../agent/src/repo/checkout';
import { commitTree, Repo, Transaction } from '../../agent/src/repo/index';
import { addRemote } from '../../agent/src/repo/remotes';
import { addSignature, GPG_SIGNATURES_KEY, serializeDetachedMetadata, signOpenPgp } from '../../agent/src/sign/index';
import { serveDirectory, type RepoServer } from '../helpers/http-server';
import { buildNastyTree, type NastyTree } from '../helpers/nasty-tree';
import { assertTreesEqual } from '../helpers/tree-compare';
import { gpgOracle, hasGpg, type GpgOracle } from '../unit/sign/gpg-oracle';
import { writeSummary } from '../unit/pull/fixture';

function has(cmd: string): boolean {
  return spawnSync(cmd, ['--version'], { stdio: 'ignore' }).status === 0;
}

function ostree(args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync('ostree', args, { encoding: 'utf8' });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

/** For commands that talk to the in-process server: a synchronous spawn would block its event loop. */
function ostreeAsync(args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile('ostree', args, { encoding: 'utf8' }, (e, out, err) => {
      resolve({ code: e ? (typeof e.code === 'number' ? e.code : -1) : 0, out, err });
    });
  });
}

function must(args: string[]): string {
  const r = ostree(args);
  if (r.code !== 0) throw new Error(`ostree ${args.join(' ')}: ${r.err}`);
  return r.out;
}

const isRoot = process.getuid?.() === 0;
const metaPath = (c: string): string => `/objects/${c.slice(0, 2)}/${c.slice(2)}.commitmeta`;

describe('interop: pull with the real ostree and GnuPG', function () {
  let g: GpgOracle;
  let dir: string;
  let tree: NastyTree;
  let keyA: string;
  /** The client repository mode: bare as root (owners, setuid, xattrs), else bare-user-only. */
  const mode = isRoot ? 'bare' : 'bare-user-only';
  const compare = isRoot ? {} : { owner: false, xattrs: false, modeMask: 0o755 };

  before(async function () {
    if (!has('ostree') || !hasGpg()) this.skip(); // needs the Debian packages ostree and gnupg
    this.timeout(60000);
    g = await gpgOracle();
    dir = mkdtempSync(join(tmpdir(), 'canopy-interop-pull-'));
    tree = buildNastyTree(dir, { bigFileSize: 300_000, depth: 6 });
    keyA = join(dir, 'A.asc');
    writeFileSync(keyA, await g.exportPublic(['A'], true));
  });
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  describe('ostree pulls what canopy committed and signed', () => {
    let srv: RepoServer;
    let repo: Repo;
    let commit: string;
    let commitBytes: Buffer;
    let n = 0;

    before(async function () {
      this.timeout(30000);
      repo = Repo.init(join(dir, 'canopy-server'), { mode: 'archive' });
      const r = await commitTree(repo, tree.root, { branch: 'main', subject: 'signed by canopy', timestamp: 1_700_000_000, canonicalPermissions: !isRoot });
      commit = r.checksum;
      commitBytes = r.commitBytes;
      const tx = new Transaction(repo);
      tx.writeCommitMeta(commit, serializeDetachedMetadata(addSignature([], GPG_SIGNATURES_KEY, await signOpenPgp(commitBytes, await g.exportSecret('A')))));
      tx.commit();
      writeSummary(repo);
      srv = await serveDirectory(repo.path);
    });
    after(async () => {
      srv?.close();
    });
    beforeEach(() => srv.override(metaPath(commit), undefined));

    const ostreeClient = (gpgImport = true): string => {
      const p = join(dir, `ostree-client-${n++}`);
      must([`--repo=${p}`, 'init', `--mode=${mode}`]);
      must([`--repo=${p}`, 'remote', 'add', ...(gpgImport ? [`--gpg-import=${keyA}`] : []), 'origin', srv.url]);
      return p;
    };

    it('ostree pull with gpg-verify accepts it; the checkout is identical; ostree fsck passes', async () => {
      const p = ostreeClient();
      const r = await ostreeAsync([`--repo=${p}`, 'pull', 'origin', 'main']);
      assert.equal(r.code, 0, r.err);
      assert.equal(must([`--repo=${p}`, 'rev-parse', 'origin:main']).trim(), commit);
      must([`--repo=${p}`, 'fsck']);
      const co = join(dir, `ostree-co-${n}`);
      must([`--repo=${p}`, 'checkout', ...(isRoot ? [] : ['-U']), 'origin:main', co]);
      assertTreesEqual(tree.root, co, compare);
    });

    it('ostree pull trusts a keyring that canopy imported', async () => {
      const p = ostreeClient(false);
      await importRemoteGpgKeys(Repo.open(p), 'origin', [{ source: keyA, data: readFileSync(keyA) }]);
      const r = await ostreeAsync([`--repo=${p}`, 'pull', 'origin', 'main']);
      assert.equal(r.code, 0, r.err);
    });

    it('ostree pull refuses it when the signature is over other bytes, or by a key it does not trust', async () => {
      srv.override(metaPath(commit), serializeDetachedMetadata(addSignature([], GPG_SIGNATURES_KEY, await signOpenPgp(Buffer.concat([commitBytes, Buffer.of(1)]), await g.exportSecret('A')))));
      const bad = await ostreeAsync([`--repo=${ostreeClient()}`, 'pull', 'origin', 'main']);
      assert.notEqual(bad.code, 0);
      assert.match(bad.err, /BAD signature|signature/i);
      srv.override(metaPath(commit), serializeDetachedMetadata(addSignature([], GPG_SIGNATURES_KEY, await g.sign('U', commitBytes))));
      const unknown = await ostreeAsync([`--repo=${ostreeClient()}`, 'pull', 'origin', 'main']);
      assert.notEqual(unknown.code, 0);
      assert.match(unknown.err, /public key not found|signature/i);
    });
  });

  describe('canopy pulls what ostree committed and gpg-signed', () => {
    let srv: RepoServer;
    let server: string;
    let commit: string;
    let n = 0;

    before(async function () {
      this.timeout(30000);
      server = join(dir, 'ostree-server');
      must([`--repo=${server}`, 'init', '--mode=archive']);
      commit = must([`--repo=${server}`, 'commit', '-b', 'main', `--tree=dir=${tree.root}`, '-s', 'signed by ostree', '--timestamp=2024-01-01T00:00:00Z', ...(isRoot ? [] : ['--canonical-permissions'])]).trim();
      must([`--repo=${server}`, 'gpg-sign', `--gpg-homedir=${g.home}`, commit, g.keys.A.keyId]);
      must([`--repo=${server}`, 'summary', '-u']);
      srv = await serveDirectory(server);
    });
    after(async () => {
      await srv?.close();
    });
    beforeEach(() => {
      srv.clearFaults();
      srv.override(metaPath(commit), undefined);
      srv.override(`/objects/${commit.slice(0, 2)}/${commit.slice(2)}.commit`, undefined);
    });

    const client = async (): Promise<Repo> => {
      const r = Repo.init(join(dir, `canopy-client-${n++}`), { mode });
      addRemote(r, 'origin', srv.url);
      await importRemoteGpgKeys(r, 'origin', [{ source: keyA, data: readFileSync(keyA) }]);
      return r;
    };

    it('verifies and stores it; the checkout is identical; ostree fsck accepts the repository', async function () {
      this.timeout(30000);
      const c = await client();
      const r = await pull(c, 'origin', ['main'], { retries: 0 });
      assert.equal(r.verified, true);
      assert.deepEqual(r.refs.map((x) => [x.ref, x.commit]), [['main', commit]]);
      const fsck = ostree([`--repo=${c.path}`, 'fsck']);
      assert.equal(fsck.code, 0, fsck.err + fsck.out);
      const co = join(dir, `canopy-co-${n}`);
      await checkout(c, commit, co);
      assertTreesEqual(tree.root, co, compare);
    });

    it('refuses an unsigned commit, a tampered one, and one signed by a key it does not trust', async () => {
      const refuses = async (codes: string[]): Promise<void> => {
        const c = await client();
        await assert.rejects(pull(c, 'origin', ['main'], { retries: 0 }), (e) => isCanopyError(e) && codes.includes(e.code));
        assert.equal(c.hasObject(commit, ObjectType.COMMIT), false, 'nothing stored');
        assert.equal(ostree([`--repo=${c.path}`, 'refs']).out, '', 'no ref');
      };
      const signedMeta = readFileSync(join(server, metaPath(commit)));
      srv.addFault({ match: metaPath(commit), status: 404 });
      await refuses(['ERR_SIGNATURE_MISSING']);
      srv.clearFaults();
      // The same signature over a commit whose subject was changed in transit.
      const commitFile = `/objects/${commit.slice(0, 2)}/${commit.slice(2)}.commit`;
      const bytes = readFileSync(join(server, commitFile));
      const tampered = Buffer.from(bytes.toString('latin1').replace('signed by ostree', 'signed by 0stree'), 'latin1');
      srv.override(commitFile, tampered);
      await refuses(['ERR_CHECKSUM_MISMATCH']);
      srv.override(commitFile, undefined);
      // A signature that belongs to other bytes (e.g. another commit's .commitmeta).
      srv.override(metaPath(commit), serializeDetachedMetadata(addSignature([], GPG_SIGNATURES_KEY, await g.sign('A', tampered))));
      await refuses(['ERR_SIGNATURE_INVALID']);
      srv.override(metaPath(commit), serializeDetachedMetadata(addSignature([], GPG_SIGNATURES_KEY, await g.sign('U', bytes))));
      await refuses(['ERR_KEY_UNTRUSTED']);
      srv.override(metaPath(commit), signedMeta);
      assert.equal((await pull(await client(), 'origin', ['main'], { retries: 0 })).verified, true, 'control: the real signature passes');
    });
  });
});
