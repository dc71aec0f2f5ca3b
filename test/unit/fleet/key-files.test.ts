import { strict as assert } from 'node:assert';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ed25519KeyPairFromSeed, parseEd25519KeyFile, signEd25519, verifyEd25519, Ed25519KeySet } from '../../../agent/src/sign/index';
import { generateKeyFiles, listKeyFiles, publicKeyFileText, readSecretKeyFile } from '../../../agent/src/fleet/index';

describe('fleet/key-files', () => {
  let dir: string;
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'canopy-keys-')); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('writes a secret (0600) and a public key file in OSTree\'s formats, and never overwrites them', () => {
    const k = generateKeyFiles(dir, 'op');
    assert.equal(statSync(k.secretPath).mode & 0o777, 0o600);
    assert.equal(statSync(k.publicPath).mode & 0o777, 0o644);
    const secretLine = readFileSync(k.secretPath, 'utf8');
    assert.match(secretLine, /^[A-Za-z0-9+/]{86}==\n$/, 'one base64 64-byte key and a newline');
    assert.equal(readFileSync(k.publicPath, 'utf8'), `${k.publicKey}\n`);
    // The public file is a valid trusted.ed25519 file, and the pair signs and verifies.
    const pub = parseEd25519KeyFile(readFileSync(k.publicPath), k.publicPath).keys[0];
    const [pair] = readSecretKeyFile(k.secretPath);
    assert.ok(pair.publicKey.equals(pub));
    const data = Buffer.from('commit bytes');
    assert.doesNotThrow(() => verifyEd25519([signEd25519(pair.secretKey, data)], data, new Ed25519KeySet([pub])));
    assert.throws(() => generateKeyFiles(dir, 'op'), /exists/);
    assert.throws(() => generateKeyFiles(dir, '../evil'), /key name/);
  });

  it('reads key files with several keys, comments and blank lines; names the bad line', () => {
    const a = ed25519KeyPairFromSeed(Buffer.alloc(32, 1));
    const b = ed25519KeyPairFromSeed(Buffer.alloc(32, 2));
    const f = join(dir, 'keys');
    writeFileSync(f, `# operator keys\n${a.secretKey.toString('base64')}\n\n${b.secretKey.toString('base64')}\n`);
    assert.deepEqual(readSecretKeyFile(f).map((k) => k.publicKey.toString('base64')), [a.publicKey.toString('base64'), b.publicKey.toString('base64')]);
    assert.equal(publicKeyFileText(readSecretKeyFile(f)), `${a.publicKey.toString('base64')}\n${b.publicKey.toString('base64')}\n`);
    const bad = Buffer.concat([a.secretKey.subarray(0, 32), b.publicKey]).toString('base64');
    writeFileSync(f, `${a.secretKey.toString('base64')}\n${bad}\n`);
    assert.throws(() => readSecretKeyFile(f), (e: { code?: string; message: string }) => e.code === 'ERR_CONFIG_INVALID' && /line 2/.test(e.message) && /does not match/.test(e.message));
    writeFileSync(f, '# nothing\n');
    assert.throws(() => readSecretKeyFile(f), /no ed25519 secret key/);
    assert.throws(() => readSecretKeyFile(join(dir, 'missing')), (e: { code?: string }) => e.code === 'ERR_IO');
  });

  it('lists pairs and lone public keys, warning about readable secrets and mismatched halves', () => {
    generateKeyFiles(dir, 'a');
    const b = generateKeyFiles(dir, 'b');
    chmodSync(b.secretPath, 0o644);
    writeFileSync(join(dir, 'c.pub'), `${ed25519KeyPairFromSeed(Buffer.alloc(32, 9)).publicKey.toString('base64')}\n`);
    writeFileSync(join(dir, 'a.pub'), `${ed25519KeyPairFromSeed(Buffer.alloc(32, 7)).publicKey.toString('base64')}\n`);
    writeFileSync(join(dir, 'junk.secret'), 'not a key\n');
    const list = listKeyFiles(dir);
    assert.deepEqual(list.map((k) => [k.name, Boolean(k.secretPath), Boolean(k.publicPath)]), [['a', true, true], ['b', true, true], ['c', false, true]]);
    assert.match(list[0].warnings.join(), /does not hold the public half/);
    assert.match(list[1].warnings.join(), /readable by others/);
  });
});
