/**
 * `remote add --gpg-import`: adding OpenPGP public keys to a remote's own
 * keyring, `<repo>/<remote>.trustedkeys.gpg`, a binary keyring (public key
 * packets concatenated) as OSTree keeps it. Key files may be binary or
 * ASCII-armoured; every key is checked with the sign module before it is
 * kept, keys already in the keyring are skipped, and secret keys are
 * refused (export the public key instead).
 */
import { CanopyError } from '../core/errors';
import type { Repo } from '../repo/index';
import { getRemote, readRemoteKeyring, remoteKeyringPath, writeRemoteKeyring } from '../repo/remotes';
import { readOpenPgpKeyring, type KeyFile } from '../sign/index';

const TAG_SECRET_KEY = 5;
const TAG_PUBLIC_KEY = 6;

function bad(source: string, why: string): CanopyError {
  return new CanopyError('ERR_CONFIG_INVALID', `${source}: ${why}`, { source });
}

/** Decodes ASCII armour (every block) to binary packets; binary input passes through. */
export function dearmor(data: Uint8Array, source: string): Buffer {
  const text = Buffer.from(data).toString('latin1');
  if (!text.includes('-----BEGIN PGP')) return Buffer.from(data);
  const blocks = text.match(/-----BEGIN PGP ([A-Z ]+)-----\r?\n([\s\S]*?)-----END PGP \1-----/g) ?? [];
  if (blocks.length === 0) throw bad(source, 'armour without a complete BEGIN/END block');
  const out: Buffer[] = [];
  for (const b of blocks) {
    const lines = b.split(/\r?\n/).slice(1, -1);
    const blank = lines.findIndex((l) => l.trim() === '');
    const body = (blank >= 0 ? lines.slice(blank + 1) : lines).filter((l) => !l.startsWith('=')).join('');
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body)) throw bad(source, 'armour body is not base64');
    out.push(Buffer.from(body, 'base64'));
  }
  return Buffer.concat(out);
}

/**
 * Splits binary packets into transferable keys (each starts at a public- or
 * secret-key packet). Throws ERR_CONFIG_INVALID for a malformed packet
 * header or data that does not start with a key.
 */
export function splitKeys(data: Buffer, source: string): Array<{ tag: number; bytes: Buffer }> {
  const keys: Array<{ tag: number; start: number }> = [];
  let off = 0;
  while (off < data.length) {
    const b = data[off];
    if ((b & 0x80) === 0) throw bad(source, `byte ${off} is not an OpenPGP packet header`);
    let tag: number;
    let len: number;
    let hdr: number;
    if (b & 0x40) {
      tag = b & 0x3f;
      const l0 = data[off + 1];
      if (l0 === undefined) throw bad(source, 'truncated packet header');
      if (l0 < 192) [len, hdr] = [l0, 2];
      else if (l0 < 224) [len, hdr] = [((l0 - 192) << 8) + (data[off + 2] ?? 0) + 192, 3];
      else if (l0 === 255) [len, hdr] = [data.length >= off + 6 ? data.readUInt32BE(off + 2) : -1, 6];
      else throw bad(source, 'partial-length packets do not occur in keys');
    } else {
      tag = (b >> 2) & 0x0f;
      const lt = b & 3;
      if (lt === 3) throw bad(source, 'indeterminate-length packets do not occur in keys');
      const n = [1, 2, 4][lt];
      if (data.length < off + 1 + n) throw bad(source, 'truncated packet header');
      len = n === 1 ? data[off + 1] : n === 2 ? data.readUInt16BE(off + 1) : data.readUInt32BE(off + 1);
      hdr = 1 + n;
    }
    if (len < 0 || off + hdr + len > data.length) throw bad(source, `packet at byte ${off} runs past the end`);
    if (tag === TAG_PUBLIC_KEY || tag === TAG_SECRET_KEY) keys.push({ tag, start: off });
    else if (keys.length === 0) throw bad(source, 'does not start with a key packet');
    off += hdr + len;
  }
  return keys.map((k, i) => ({ tag: k.tag, bytes: data.subarray(k.start, keys[i + 1]?.start ?? data.length) }));
}

/**
 * Adds the public keys in `files` to the remote's keyring. Returns the
 * fingerprints added (keys already present are not added again).
 *
 * @throws ERR_REMOTE_NOT_FOUND; ERR_CONFIG_INVALID for a file that is not an
 *   OpenPGP key file, holds no key, or holds a secret key; ERR_IO.
 */
export async function importRemoteGpgKeys(repo: Repo, remote: string, files: readonly KeyFile[]): Promise<{ imported: string[]; keyring: string }> {
  getRemote(repo, remote);
  const existing = readRemoteKeyring(repo, remote) ?? Buffer.alloc(0);
  const have = new Set<string>();
  if (existing.length) {
    for (const k of (await readOpenPgpKeyring([{ source: remoteKeyringPath(repo, remote), data: existing }])).list()) have.add(k.fingerprint);
  }
  const add: Buffer[] = [];
  const imported: string[] = [];
  for (const f of files) {
    const bin = dearmor(typeof f.data === 'string' ? Buffer.from(f.data, 'latin1') : f.data, f.source);
    const keys = splitKeys(bin, f.source);
    if (keys.length === 0) throw bad(f.source, 'holds no OpenPGP key');
    for (const k of keys) {
      if (k.tag === TAG_SECRET_KEY) throw bad(f.source, 'holds a secret key; import the public key (gpg --export KEYID)');
      const [info] = (await readOpenPgpKeyring([{ source: f.source, data: k.bytes }])).list();
      if (have.has(info.fingerprint)) continue;
      have.add(info.fingerprint);
      add.push(k.bytes);
      imported.push(info.fingerprint);
    }
  }
  if (add.length) writeRemoteKeyring(repo, remote, Buffer.concat([existing, ...add]));
  return { imported, keyring: remoteKeyringPath(repo, remote) };
}
