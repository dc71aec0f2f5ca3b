/**
 * The operator's ed25519 key files, in the formats OSTree uses:
 *
 * - a secret key file (`ostree sign --keys-file`): one base64 secret key
 *   per line, each 64 bytes (32-byte seed ‖ 32-byte public key, libsodium's
 *   layout); written with mode 0600;
 * - a public key file (`trusted.ed25519`, a remote's
 *   `verification-ed25519-file`, a device's trusted operator keys): one
 *   base64 public key (32 bytes) per line.
 *
 * `keys generate` writes `NAME.secret` and `NAME.pub` side by side; a
 * directory of such pairs is what `keys list` shows.
 */
import { chmodSync, closeSync, existsSync, mkdirSync, fsyncSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { CanopyError, ioError } from '../core/errors';
import { decodeEd25519SecretKey, encodeEd25519Key, generateEd25519KeyPair, parseEd25519KeyFile, type Ed25519KeyPair } from '../sign/index';

/** A generated key pair and where it was written. */
export interface WrittenKeyPair {
  name: string;
  secretPath: string;
  publicPath: string;
  /** base64 public key, the line a device's trusted key file gets. */
  publicKey: string;
}

/** One key found in a key directory. */
export interface ListedKey {
  name: string;
  /** base64 public key. */
  publicKey: string;
  /** Path of the secret key file, when there is one. */
  secretPath?: string;
  /** Path of the public key file, when there is one. */
  publicPath?: string;
  /** Problems worth telling the operator (a secret readable by others, a public file that does not match). */
  warnings: string[];
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

function writeFileExclusive(path: string, text: string, mode: number): void {
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    const fd = openSync(tmp, 'wx', mode);
    try {
      writeSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    chmodSync(tmp, mode); // the umask may have cleared bits of a public file
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw ioError(e, 'write', path);
  }
}

/**
 * Generates an ed25519 key pair and writes `DIR/NAME.secret` (mode 0600)
 * and `DIR/NAME.pub` (mode 0644), creating DIR (0700) when needed. Refuses
 * to overwrite either file.
 *
 * @throws ERR_INVALID_ARGUMENT for a bad name or when a file exists;
 *   ERR_IO / ERR_PERMISSION when the directory cannot be written.
 */
export function generateKeyFiles(dir: string, name: string, pair: Ed25519KeyPair = generateEd25519KeyPair()): WrittenKeyPair {
  if (!NAME_RE.test(name)) throw new CanopyError('ERR_INVALID_ARGUMENT', `key name ${JSON.stringify(name)} must be 1-64 letters, digits, '.', '_' or '-'`, { name });
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw ioError(e, 'create directory', dir);
  }
  const secretPath = join(dir, `${name}.secret`);
  const publicPath = join(dir, `${name}.pub`);
  for (const p of [secretPath, publicPath]) {
    if (existsSync(p)) throw new CanopyError('ERR_INVALID_ARGUMENT', `${p} exists; choose another --name or remove it first`, { path: p });
  }
  const publicKey = encodeEd25519Key(pair.publicKey);
  writeFileExclusive(secretPath, `${encodeEd25519Key(pair.secretKey)}\n`, 0o600);
  writeFileExclusive(publicPath, `${publicKey}\n`, 0o644);
  return { name, secretPath, publicPath, publicKey };
}

/**
 * Reads a secret key file: one base64 64-byte secret key per line (blank
 * lines and `#` comments skipped). The public half of each must match its
 * seed.
 *
 * @throws ERR_CONFIG_INVALID naming the file and line of a malformed key,
 *   or when the file holds no key; ERR_IO / ERR_PERMISSION when unreadable.
 */
export function readSecretKeyFile(path: string): Ed25519KeyPair[] {
  let text: string;
  try {
    text = readFileSync(path, 'latin1');
  } catch (e) {
    throw ioError(e, 'read key file', path);
  }
  if (text.length > 1 << 20) throw new CanopyError('ERR_CONFIG_INVALID', `${path}: a secret key file larger than 1 MiB is not a key file`, { path });
  const keys: Ed25519KeyPair[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    try {
      keys.push(decodeEd25519SecretKey(line));
    } catch (e) {
      throw new CanopyError('ERR_CONFIG_INVALID', `${path}: line ${i + 1} is not an ed25519 secret key: ${(e as Error).message}`, { path, line: i + 1 });
    }
  });
  if (keys.length === 0) throw new CanopyError('ERR_CONFIG_INVALID', `${path}: no ed25519 secret key`, { path });
  return keys;
}

/** The public key file text (OSTree's `trusted.ed25519` format) for secret keys. */
export function publicKeyFileText(keys: readonly Ed25519KeyPair[]): string {
  return keys.map((k) => `${encodeEd25519Key(k.publicKey)}\n`).join('');
}

/**
 * Lists the keys in a directory: every `NAME.secret` (with its public key
 * derived) and every `NAME.pub` without a secret. Files that are not keys
 * are skipped.
 *
 * @throws ERR_IO when the directory cannot be read.
 */
export function listKeyFiles(dir: string): ListedKey[] {
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch (e) {
    throw ioError(e, 'list', dir);
  }
  const out = new Map<string, ListedKey>();
  for (const f of names.filter((n) => n.endsWith('.secret'))) {
    const name = f.slice(0, -'.secret'.length);
    const path = join(dir, f);
    let keys: Ed25519KeyPair[];
    try {
      keys = readSecretKeyFile(path);
    } catch {
      continue;
    }
    const warnings: string[] = [];
    const mode = statSync(path).mode & 0o777;
    if (mode & 0o077) warnings.push(`${path} is readable by others (mode ${mode.toString(8).padStart(4, '0')}); chmod 600 it`);
    out.set(name, { name, publicKey: encodeEd25519Key(keys[0].publicKey), secretPath: path, warnings });
  }
  for (const f of names.filter((n) => n.endsWith('.pub'))) {
    const name = f.slice(0, -'.pub'.length);
    const path = join(dir, f);
    let keys: Buffer[];
    try {
      keys = parseEd25519KeyFile(readFileSync(path), path).keys;
    } catch {
      continue;
    }
    const pub = encodeEd25519Key(keys[0]);
    const known = out.get(name);
    if (known) {
      known.publicPath = path;
      if (known.publicKey !== pub) known.warnings.push(`${path} does not hold the public half of ${known.secretPath}`);
    } else {
      out.set(name, { name, publicKey: pub, publicPath: path, warnings: [] });
    }
  }
  return [...out.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
