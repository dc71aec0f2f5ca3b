/**
 * `canopy keys generate|list|export`: the operator's ed25519 keys in
 * OSTree's file formats (see fleet/key-files.ts). The public key file is
 * what devices get as their trusted operator key and what a remote's
 * `verification-ed25519-file` points at.
 */
import { writeFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { ioError } from '../core/errors';
import { generateKeyFiles, listKeyFiles, publicKeyFileText, readSecretKeyFile } from '../fleet/index';
import { usageError } from './cli-args';
import { defineCommand } from './command';
import { defineGroup } from './command-group';

const generate = defineCommand({
  name: 'keys generate',
  summary: 'Generate an ed25519 key pair (NAME.secret, mode 0600, and NAME.pub)',
  usage: '',
  description: 'The secret file holds one base64 64-byte key (seed and public key) as ostree sign --keys-file\n'
    + 'reads it; the public file one base64 32-byte key, the trusted.ed25519 format devices and remotes use.',
  options: {
    type: { type: 'string', value: 'TYPE', help: 'Key type; only ed25519' },
    output: { type: 'string', short: 'o', value: 'DIR', help: 'Directory to write to (default the current one)' },
    name: { type: 'string', value: 'NAME', help: 'File name stem (default canopy-ed25519)' },
  },
  operands: [0, 0],
  repo: false,
}, (ctx, { values }) => {
  const type = values.type ?? 'ed25519';
  if (type !== 'ed25519') throw usageError('keys generate', `--type=${type} is not supported; use ed25519 (OpenPGP keys come from gpg --quick-gen-key)`);
  const dir = values.output === undefined ? ctx.io.cwd : isAbsolute(values.output) ? values.output : resolve(ctx.io.cwd, values.output);
  const k = generateKeyFiles(dir, values.name ?? 'canopy-ed25519');
  ctx.out.result({ type, ...k }, () => `secret key: ${k.secretPath} (keep it private)\npublic key: ${k.publicPath}\n${k.publicKey}`);
});

const list = defineCommand({
  name: 'keys list',
  summary: 'List the key pairs in a directory',
  usage: '',
  options: { dir: { type: 'string', value: 'DIR', help: 'Directory (default the current one)' } },
  operands: [0, 0],
  repo: false,
}, (ctx, { values }) => {
  const dir = values.dir === undefined ? ctx.io.cwd : isAbsolute(values.dir) ? values.dir : resolve(ctx.io.cwd, values.dir);
  const keys = listKeyFiles(dir);
  for (const k of keys) for (const w of k.warnings) ctx.out.warn(w);
  ctx.out.result(keys, () => (keys.length === 0 ? `no keys in ${dir}` : keys.map((k) => `${k.name}\t${k.publicKey}\t${k.secretPath ? 'secret+public' : 'public only'}`).join('\n')));
});

const exportKeys = defineCommand({
  name: 'keys export',
  summary: 'Print the public keys of a secret key file (trusted.ed25519 format)',
  usage: 'SECRET-FILE',
  options: { output: { type: 'string', short: 'o', value: 'FILE', help: 'Write to FILE instead of stdout' } },
  operands: [1, 1],
  repo: false,
}, (ctx, { values, operands }) => {
  const file = isAbsolute(operands[0]) ? operands[0] : resolve(ctx.io.cwd, operands[0]);
  const text = publicKeyFileText(readSecretKeyFile(file));
  if (values.output !== undefined) {
    const out = isAbsolute(values.output) ? values.output : resolve(ctx.io.cwd, values.output);
    try {
      writeFileSync(out, text, { mode: 0o644 });
    } catch (e) {
      throw ioError(e, 'write', out);
    }
    ctx.out.result({ path: out, keys: text.trim().split('\n') }, () => '');
    return;
  }
  ctx.out.result({ keys: text.trim().split('\n') }, () => text.trimEnd());
});

export const keysCommand = defineGroup('keys', 'Operator signing keys (ed25519, in OSTree\'s key file formats)', [generate, list, exportKeys]);
