import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { readFileSync, statSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { Ed25519KeySet, ED25519_SIGNATURES_KEY, getSignatures, parseDetachedMetadata, verifyEd25519 } from '../../../agent/src/sign/index';
import { canopy, CLI, cleanup, commitJson, ensureBuilt, initRepo, makeTree, ok, tempDir } from './cli-harness';

describe('canopy keys, sign, summary --sign-key, serve', () => {
  before(() => ensureBuilt());
  after(() => cleanup());

  it('keys generate writes a 0600 secret and a public key; list and export read them back', () => {
    const dir = tempDir();
    const g = ok(canopy(['keys', 'generate', '--json', `--output=${dir}`, '--name=ops'])).json();
    assert.equal(statSync(g.secretPath).mode & 0o777, 0o600);
    assert.equal(readFileSync(g.publicPath, 'utf8'), `${g.publicKey}\n`);
    const list = ok(canopy(['keys', 'list', '--json', `--dir=${dir}`])).json();
    assert.deepEqual(list.map((k: { name: string; publicKey: string }) => [k.name, k.publicKey]), [['ops', g.publicKey]]);
    const exp = ok(canopy(['keys', 'export', g.secretPath]));
    assert.equal(exp.stdout, `${g.publicKey}\n`);
    const again = canopy(['keys', 'generate', `--output=${dir}`, '--name=ops']);
    assert.equal(again.status, 1, 'a second generate refuses to overwrite');
    assert.match(again.stderr, /exists/);
    assert.equal(canopy(['keys', 'generate', '--type=rsa', `--output=${dir}`]).status, 2);
    const help = canopy(['keys']);
    assert.equal(help.status, 2);
    assert.match(help.stderr, /Commands:\n {2}generate/);
    assert.match(ok(canopy(['keys', 'generate', '--help'])).stdout, /Usage: canopy keys generate/);
    assert.equal(canopy(['keys', 'frobnicate']).status, 2);
  });

  it('sign appends an ed25519 signature once; summary -u --sign-key writes summary.sig', () => {
    const dir = tempDir();
    const repo = initRepo(dir);
    const { checksum } = commitJson(repo, makeTree(dir, false), ['-b', 'os']);
    const key = ok(canopy(['keys', 'generate', '--json', `--output=${dir}`])).json();
    const s1 = ok(canopy(['sign', `--repo=${repo}`, '--json', `--keys-file=${key.secretPath}`, 'os'])).json();
    assert.equal(s1.commit, checksum);
    assert.deepEqual(s1.outcomes.map((o: { added: boolean }) => o.added), [true]);
    const s2 = ok(canopy(['sign', `--repo=${repo}`, `--keys-file=${key.secretPath}`, checksum]));
    assert.match(s2.stdout, /already signed/);
    const meta = parseDetachedMetadata(readFileSync(join(repo, 'objects', checksum.slice(0, 2), `${checksum.slice(2)}.commitmeta`)));
    const commitBytes = readFileSync(join(repo, 'objects', checksum.slice(0, 2), `${checksum.slice(2)}.commit`));
    const pub = Buffer.from(key.publicKey, 'base64');
    assert.doesNotThrow(() => verifyEd25519(getSignatures(meta, ED25519_SIGNATURES_KEY), commitBytes, new Ed25519KeySet([pub])));
    assert.equal(canopy(['sign', `--repo=${repo}`, 'os']).status, 2, 'no key: usage error');

    ok(canopy(['summary', `--repo=${repo}`, '-u', `--sign-key=${key.secretPath}`]));
    const sig = parseDetachedMetadata(readFileSync(join(repo, 'summary.sig')));
    assert.doesNotThrow(() => verifyEd25519(getSignatures(sig, ED25519_SIGNATURES_KEY), readFileSync(join(repo, 'summary')), new Ed25519KeySet([pub])));
    ok(canopy(['summary', `--repo=${repo}`, '-u']));
    assert.equal(existsSync(join(repo, 'summary.sig')), false, 'an unsigned update removes the stale signature');
  });

  it('serve prints its URL, serves the repository, and stops on SIGTERM', async () => {
    const dir = tempDir();
    const repo = initRepo(dir);
    const child = spawn(process.execPath, [CLI, 'serve', `--repo=${repo}`, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        try {
          resolve(JSON.parse(out).url);
        } catch { /* not complete yet */ }
      });
      child.once('exit', (c) => reject(new Error(`serve exited ${c}: ${out}`)));
    });
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
    const config = await fetch(`${url}/config`);
    assert.equal(config.status, 200);
    assert.match(await config.text(), /mode=archive/);
    assert.equal((await fetch(`${url}/objects`)).status, 404);
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
  });
});
