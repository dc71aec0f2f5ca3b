/**
 * A remote's trust settings, loaded from its config and key files: the
 * OpenPGP keyring (`<repo>/<remote>.trustedkeys.gpg`, the `gpgkeypath`
 * files or directories, and any global keyring directories the caller
 * names) and the ed25519 keys (`verification-ed25519-key`, `-file`). Keys
 * are read only for the checks that are switched on.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CanopyError, isCanopyError } from '../core/errors';
import type { Repo } from '../repo/index';
import { remoteKeyringPath, type RemoteConfig } from '../repo/remotes';
import {
  decodeEd25519PublicKey, Ed25519KeySet, readOpenPgpKeyring, verifyTrust,
  type KeyFile, type OpenPgpKeyring, type TrustSettings,
} from '../sign/index';
import type { CommitVerifier } from './types';

export interface RemoteTrust {
  /** For commits: `gpg-verify`, `sign-verify`. */
  readonly commit: TrustSettings;
  /** For the summary: `gpg-verify-summary`, `sign-verify-summary`. */
  readonly summary: TrustSettings;
}

function readKey(path: string, what: string): KeyFile {
  try {
    return { source: path, data: readFileSync(path) };
  } catch (e) {
    throw new CanopyError('ERR_CONFIG_INVALID', `cannot read ${what} ${path}: ${(e as Error).message}`, { path }, { cause: e });
  }
}

function keyringsIn(dir: string, required: boolean, what: string): KeyFile[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (e) {
    if (!required && (e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new CanopyError('ERR_CONFIG_INVALID', `cannot read ${what} ${dir}: ${(e as Error).message}`, { path: dir }, { cause: e });
  }
  return names.filter((n) => n.endsWith('.gpg')).sort().map((n) => readKey(join(dir, n), what));
}

/** The key files a remote's OpenPGP checks trust. */
export function remoteKeyFiles(repo: Repo, remote: RemoteConfig, globalKeyringDirs: readonly string[] = []): KeyFile[] {
  const files: KeyFile[] = [];
  const own = remoteKeyringPath(repo, remote.name);
  try {
    files.push({ source: own, data: readFileSync(own) });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new CanopyError('ERR_CONFIG_INVALID', `cannot read ${own}: ${(e as Error).message}`, { path: own }, { cause: e });
  }
  for (const p of remote.gpgKeyPaths) {
    let isDir = false;
    try {
      isDir = statSync(p).isDirectory();
    } catch (e) {
      throw new CanopyError('ERR_CONFIG_INVALID', `remote ${remote.name}: gpgkeypath ${p} cannot be read: ${(e as Error).message}`, { path: p }, { cause: e });
    }
    files.push(...(isDir ? keyringsIn(p, true, 'gpgkeypath') : [readKey(p, 'gpgkeypath')]));
  }
  for (const d of globalKeyringDirs) files.push(...keyringsIn(d, false, 'keyring directory'));
  return files;
}

function ed25519Keys(remote: RemoteConfig): Ed25519KeySet {
  const set = new Ed25519KeySet();
  for (const k of remote.ed25519Keys) {
    try {
      set.add(decodeEd25519PublicKey(k));
    } catch (e) {
      if (isCanopyError(e)) throw new CanopyError('ERR_CONFIG_INVALID', `remote ${remote.name}: verification-ed25519-key: ${e.message}`, { remote: remote.name }, { cause: e });
      throw e;
    }
  }
  if (remote.ed25519KeyFile) {
    const f = readKey(remote.ed25519KeyFile, 'verification-ed25519-file');
    for (const k of Ed25519KeySet.fromFiles([{ source: f.source, text: f.data }]).keys()) set.add(k);
  }
  return set;
}

const on = (v: boolean | readonly string[]): boolean => v === true || (Array.isArray(v) && v.length > 0);

/**
 * Loads the keys a remote's checks need. Throws ERR_CONFIG_INVALID for an
 * unreadable or malformed key file or key.
 */
export async function loadRemoteTrust(repo: Repo, remote: RemoteConfig, globalKeyringDirs: readonly string[] = []): Promise<RemoteTrust> {
  let keyring: OpenPgpKeyring | undefined;
  if (remote.gpgVerify || remote.gpgVerifySummary) {
    const files = remoteKeyFiles(repo, remote, globalKeyringDirs);
    if (files.length > 0) keyring = await readOpenPgpKeyring(files);
  }
  const ed = on(remote.signVerify) || on(remote.signVerifySummary) ? { trusted: ed25519Keys(remote) } : undefined;
  return {
    commit: { gpgVerify: remote.gpgVerify, signVerify: remote.signVerify, gpgKeyring: keyring, ed25519: ed },
    summary: { gpgVerify: remote.gpgVerifySummary, signVerify: remote.signVerifySummary, gpgKeyring: keyring, ed25519: ed },
  };
}

/** A {@link CommitVerifier} applying `settings` with the sign module's policy. */
export function trustVerifier(settings: TrustSettings): CommitVerifier {
  return {
    async verify(what, data, detachedMetadata) {
      const v = await verifyTrust(settings, { what, data, detachedMetadata: detachedMetadata ?? null });
      return v.verified;
    },
  };
}
