/**
 * The real GnuPG as a test oracle: one temporary GNUPGHOME per test process,
 * with keys generated once (batch mode, no passphrase unless stated) and
 * shared by every sign suite. Removed, and its agent stopped, at exit.
 *
 * Keys:
 * - A: ed25519, signs with its primary key
 * - B: ed25519 certify-only primary with an ed25519 signing subkey
 * - C: RSA-2048
 * - P: ed25519 protected by the passphrase `hunter2`
 * - E: ed25519 created 2020-01-01, expired 2020-06-01 (sign with `fakedTime`)
 * - S: ed25519 created 2020-01-01, never expires (for expired signatures)
 * - R: ed25519; `revokedPublicR` is its public key with its revocation
 *   certificate applied (made in a second home, so R still signs here)
 * - U: ed25519 that is never put in a trusted keyring (an unknown signer)
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type KeyName = 'A' | 'B' | 'C' | 'P' | 'E' | 'S' | 'R' | 'U';

export interface GpgKey {
  name: KeyName;
  /** Primary fingerprint. */
  fpr: string;
  /** Primary key id. */
  keyId: string;
  /** The id that appears in its signatures (the signing subkey for B). */
  signerId: string;
}

export interface SignOpts {
  /** gpg's --faked-system-time value, e.g. `20200201T000000!`. */
  fakedTime?: string;
  /** gpg's --default-sig-expire value, e.g. `1d`. */
  sigExpire?: string;
  textmode?: boolean;
  armor?: boolean;
}

export interface GpgOracle {
  home: string;
  /** A scratch directory for the caller's files (removed at exit). */
  scratch: string;
  keys: Record<KeyName, GpgKey>;
  sign(key: KeyName, data: Uint8Array, opts?: SignOpts): Promise<Buffer>;
  /** `gpg --verify` status lines (`[GNUPG:] GOODSIG …`) and the exit code. */
  verify(sig: Uint8Array, data: Uint8Array): Promise<{ status: string[]; code: number }>;
  exportPublic(keys: KeyName[], armor?: boolean): Promise<Buffer>;
  exportSecret(key: KeyName, armor?: boolean): Promise<Buffer>;
  /** R's public key carrying its revocation signature (binary). */
  revokedPublicR: Buffer;
}

export function hasGpg(): boolean {
  try {
    execFileSync('gpg', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

interface Run {
  stdout: Buffer;
  stderr: string;
  code: number;
}

function run(cmd: string, args: string[], input?: Uint8Array): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { encoding: 'buffer', maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0;
      if (err && code === -1) return reject(err);
      resolve({ stdout, stderr: stderr.toString('utf8'), code });
    });
    if (input) child.stdin!.end(input);
    else child.stdin!.end();
  });
}

const BATCH = ['--batch', '--no-tty', '--pinentry-mode', 'loopback'];

function keyBlock(name: string, lines: string[]): string {
  return ['Key-Type: eddsa', 'Key-Curve: ed25519', ...lines, `Name-Real: Key ${name}`, `Name-Email: ${name.toLowerCase()}@canopy.test`, '%commit', ''].join('\n');
}

let shared: Promise<GpgOracle> | undefined;

/** The shared oracle; the first call generates the keys (about 3 s). */
export function gpgOracle(): Promise<GpgOracle> {
  shared ??= create();
  return shared;
}

async function create(): Promise<GpgOracle> {
  const root = mkdtempSync(join(tmpdir(), 'canopy-gpg-'));
  const home = join(root, 'home');
  const home2 = join(root, 'home2');
  const scratch = join(root, 'scratch');
  mkdirSync(home, { mode: 0o700 });
  mkdirSync(home2, { mode: 0o700 });
  mkdirSync(scratch);
  process.once('exit', () => {
    for (const h of [home, home2]) {
      try {
        execFileSync('gpgconf', ['--homedir', h, '--kill', 'gpg-agent'], { stdio: 'ignore' });
      } catch {
        // the agent may not have started
      }
    }
    rmSync(root, { recursive: true, force: true });
  });

  const gpg = async (args: string[], input?: Uint8Array, h = home): Promise<Run> => {
    const r = await run('gpg', ['--homedir', h, ...BATCH, ...args], input);
    return r;
  };
  const must = async (args: string[], input?: Uint8Array, h = home): Promise<Buffer> => {
    const r = await gpg(args, input, h);
    if (r.code !== 0) throw new Error(`gpg ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
    return r.stdout;
  };

  const now = [
    keyBlock('P', ['Key-Usage: sign', 'Expire-Date: 0', 'Passphrase: hunter2']),
    '%no-protection\n',
    keyBlock('A', ['Key-Usage: sign', 'Expire-Date: 0']),
    keyBlock('B', ['Key-Usage: cert', 'Subkey-Type: eddsa', 'Subkey-Curve: ed25519', 'Subkey-Usage: sign', 'Expire-Date: 0']),
    ['Key-Type: rsa', 'Key-Length: 2048', 'Key-Usage: sign', 'Name-Real: Key C', 'Name-Email: c@canopy.test', 'Expire-Date: 0', '%commit', ''].join('\n'),
    keyBlock('R', ['Key-Usage: sign', 'Expire-Date: 0']),
    keyBlock('U', ['Key-Usage: sign', 'Expire-Date: 0']),
  ].join('');
  const past = [
    '%no-protection\n',
    keyBlock('E', ['Key-Usage: sign', 'Creation-Date: 20200101T000000', 'Expire-Date: 2020-06-01']),
    keyBlock('S', ['Key-Usage: sign', 'Creation-Date: 20200101T000000', 'Expire-Date: 0']),
  ].join('');
  writeFileSync(join(scratch, 'now.params'), now);
  writeFileSync(join(scratch, 'past.params'), past);
  await must(['--gen-key', join(scratch, 'now.params')]);
  await must(['--faked-system-time', '20200101T000100!', '--gen-key', join(scratch, 'past.params')]);

  const listing = (await must(['--with-colons', '--list-keys'])).toString('utf8');
  const keys = {} as Record<KeyName, GpgKey>;
  let cur: Partial<GpgKey> & { sub?: boolean } = {};
  const finish = (): void => {
    if (cur.name && cur.fpr) keys[cur.name] = { name: cur.name, fpr: cur.fpr, keyId: cur.keyId!, signerId: cur.signerId ?? cur.keyId! };
  };
  for (const line of listing.split('\n')) {
    const f = line.split(':');
    if (f[0] === 'pub') {
      finish();
      cur = { keyId: f[4] };
    } else if (f[0] === 'fpr' && cur.fpr === undefined && !cur.sub) cur.fpr = f[9];
    else if (f[0] === 'uid') cur.name = /Key (\w)/.exec(f[9])![1] as KeyName;
    else if (f[0] === 'sub') {
      cur.sub = true;
      if (f[11].includes('s')) cur.signerId = f[4];
    }
  }
  finish();
  for (const n of ['A', 'B', 'C', 'P', 'E', 'S', 'R', 'U'] as KeyName[]) if (!keys[n]) throw new Error(`gpg oracle: key ${n} missing from listing`);

  // R revoked, in a second home so that R can still sign in the first one.
  await must(['--import'], await must(['--export', keys.R.fpr]), home2);
  const rev = readFileSync(join(home, 'openpgp-revocs.d', `${keys.R.fpr}.rev`), 'utf8').replace(/^:-----BEGIN/m, '-----BEGIN');
  await must(['--import'], Buffer.from(rev), home2);
  const revokedPublicR = await must(['--export', keys.R.fpr], undefined, home2);

  let n = 0;
  const tmp = (b: Uint8Array): string => {
    const p = join(scratch, `f${n++}`);
    writeFileSync(p, b);
    return p;
  };

  return {
    home,
    scratch,
    keys,
    revokedPublicR,
    async sign(name, data, opts = {}) {
      const k = keys[name];
      const args = ['--passphrase', name === 'P' ? 'hunter2' : ''];
      if (opts.fakedTime) args.push('--faked-system-time', opts.fakedTime);
      if (opts.sigExpire) args.push('--default-sig-expire', opts.sigExpire);
      if (opts.textmode) args.push('--textmode');
      if (opts.armor) args.push('--armor');
      // `!` forces the exact (sub)key instead of letting gpg pick one.
      args.push('--local-user', `${k.signerId}!`, '--detach-sign', '--output', '-', tmp(data));
      return must(args);
    },
    async verify(sig, data) {
      const r = await gpg(['--status-fd', '1', '--verify', tmp(sig), tmp(data)]);
      return { status: r.stdout.toString('utf8').split('\n').filter((l) => l.startsWith('[GNUPG:]')), code: r.code };
    },
    async exportPublic(names, armor = false) {
      return must([...(armor ? ['--armor'] : []), '--export', ...names.map((x) => keys[x].fpr)]);
    },
    async exportSecret(name, armor = false) {
      return must(['--passphrase', name === 'P' ? 'hunter2' : '', ...(armor ? ['--armor'] : []), '--export-secret-keys', keys[name].fpr]);
    },
  };
}
