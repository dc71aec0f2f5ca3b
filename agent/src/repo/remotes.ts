/**
 * Remotes, stored in the repository's `config` exactly as OSTree stores
 * them: one `[remote "NAME"]` group per remote with `url`, an optional
 * `branches=a;b;` list, every `--set` key in the order given and, for
 * `--no-gpg-verify`, `gpg-verify=false` last (the order `ostree remote add`
 * writes). A remote's trusted OpenPGP keys live beside the config in
 * `<repo>/<NAME>.trustedkeys.gpg` (binary keyring); deleting the remote
 * deletes that file.
 *
 * Keys Canopy reads (defaults as in OSTree): `url`, `contenturl`,
 * `branches`, `gpg-verify` (true), `gpg-verify-summary` (false),
 * `sign-verify` / `sign-verify-summary` (false; `true` or engine names),
 * `verification-ed25519-key` / `-file`, `gpgkeypath`, `collection-id`,
 * `tls-ca-path`, `tls-client-cert-path`, `tls-client-key-path`,
 * `tls-permissive` (false), `proxy`, and Canopy's own `tls-pinned-spki`
 * (base64 sha256 digests of the server's SubjectPublicKeyInfo,
 * `;`-separated). Any other key is kept and ignored.
 */
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CanopyError, ioError } from '../core/errors';
import { assertRef, assertRemoteName } from '../core/names';
import type { Repo } from './repo';

/** A remote as configured, with OSTree's defaults applied. */
export interface RemoteConfig {
  readonly name: string;
  /** Base URL for `summary`, `summary.sig`, `config`, `refs/` and `.commitmeta`. */
  readonly url: string;
  /** Base URL for objects (and deltas); `url` when not set. */
  readonly contentUrl: string;
  /** Default refs for `pull REMOTE` with none given. */
  readonly branches: string[];
  readonly gpgVerify: boolean;
  readonly gpgVerifySummary: boolean;
  /** `sign-verify`: false, true (every engine) or engine names. */
  readonly signVerify: boolean | string[];
  readonly signVerifySummary: boolean | string[];
  /** `verification-ed25519-key`: base64 public keys. */
  readonly ed25519Keys: string[];
  /** `verification-ed25519-file`. */
  readonly ed25519KeyFile?: string;
  /** `gpgkeypath`: extra keyring files or directories of `*.gpg` files. */
  readonly gpgKeyPaths: string[];
  readonly collectionId?: string;
  readonly tlsCaPath?: string;
  readonly tlsClientCertPath?: string;
  readonly tlsClientKeyPath?: string;
  readonly tlsPermissive: boolean;
  /** base64 sha256 of the SubjectPublicKeyInfo the server must present. */
  readonly tlsPinnedSpki: string[];
  readonly proxy?: string;
  /** Every key of the group as written, including unknown ones. */
  readonly options: Readonly<Record<string, string>>;
}

export interface AddRemoteOptions {
  /** Written as `branches=a;b;`. */
  branches?: readonly string[];
  /** `--set=K=V` pairs, written in order after `url` and `branches`. */
  set?: ReadonlyArray<readonly [string, string]>;
  /** Writes `gpg-verify=false` (after the `set` keys, as ostree does). */
  noGpgVerify?: boolean;
  /** Succeed silently when the remote exists (ostree's --if-not-exists). */
  ifNotExists?: boolean;
}

const GROUP_RE = /^remote "(.*)"$/;

/** The config group name of a remote. */
export function remoteGroup(name: string): string {
  return `remote "${assertRemoteName(name)}"`;
}

/** The per-remote keyring `ostree remote add --gpg-import` writes. */
export function remoteKeyringPath(repo: Repo, name: string): string {
  return join(repo.path, `${assertRemoteName(name)}.trustedkeys.gpg`);
}

/** Names of the configured remotes, in config order. */
export function listRemotes(repo: Repo): string[] {
  return repo.config.groupNames().flatMap((g) => {
    const m = GROUP_RE.exec(g);
    return m ? [m[1]] : [];
  });
}

function splitList(v: string | undefined): string[] {
  return (v ?? '').split(';').map((s) => s.trim()).filter((s) => s.length > 0);
}

function boolOrList(repo: Repo, group: string, key: string): boolean | string[] {
  const v = repo.config.get(group, key);
  if (v === undefined) return false;
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  const list = splitList(v);
  if (list.length === 0) throw new CanopyError('ERR_CONFIG_INVALID', `[${group}] ${key}=${v} is neither a boolean nor a list of engines`, { group, key });
  return list;
}

/**
 * Reads one remote. Throws ERR_REMOTE_NOT_FOUND when it is not configured,
 * ERR_CONFIG_INVALID for a missing url or a malformed boolean or pin.
 */
export function getRemote(repo: Repo, name: string): RemoteConfig {
  const group = remoteGroup(name);
  const kf = repo.config;
  if (!kf.hasGroup(group)) throw new CanopyError('ERR_REMOTE_NOT_FOUND', `remote ${JSON.stringify(name)} is not configured in ${repo.path}/config`, { remote: name });
  const options: Record<string, string> = {};
  for (const k of kf.keys(group)) options[k] = kf.get(group, k)!;
  const url = options.url;
  if (!url) throw new CanopyError('ERR_CONFIG_INVALID', `[${group}] has no url`, { remote: name });
  const pins = splitList(options['tls-pinned-spki']);
  for (const p of pins) {
    if (Buffer.from(p, 'base64').length !== 32 || !/^[A-Za-z0-9+/]{43}=$/.test(p)) {
      throw new CanopyError('ERR_CONFIG_INVALID', `[${group}] tls-pinned-spki entry ${JSON.stringify(p)} is not a base64 sha256 digest`, { remote: name });
    }
  }
  const opt = (k: string): string | undefined => (options[k] === undefined || options[k] === '' ? undefined : options[k]);
  return {
    name,
    url,
    contentUrl: opt('contenturl') ?? url,
    branches: splitList(options.branches),
    gpgVerify: kf.getBoolean(group, 'gpg-verify', true),
    gpgVerifySummary: kf.getBoolean(group, 'gpg-verify-summary', false),
    signVerify: boolOrList(repo, group, 'sign-verify'),
    signVerifySummary: boolOrList(repo, group, 'sign-verify-summary'),
    ed25519Keys: splitList(options['verification-ed25519-key']),
    ed25519KeyFile: opt('verification-ed25519-file'),
    gpgKeyPaths: splitList(options.gpgkeypath),
    collectionId: opt('collection-id'),
    tlsCaPath: opt('tls-ca-path'),
    tlsClientCertPath: opt('tls-client-cert-path'),
    tlsClientKeyPath: opt('tls-client-key-path'),
    tlsPermissive: kf.getBoolean(group, 'tls-permissive', false),
    tlsPinnedSpki: pins,
    proxy: opt('proxy'),
    options,
  };
}

/**
 * Adds a remote to `config`. Returns false when it existed and
 * `ifNotExists` was given. Throws ERR_REMOTE_EXISTS, ERR_REF_INVALID (bad
 * name or branch), ERR_INVALID_ARGUMENT (empty URL or key), ERR_IO.
 */
export function addRemote(repo: Repo, name: string, url: string, opts: AddRemoteOptions = {}): boolean {
  const group = remoteGroup(name);
  if (repo.config.hasGroup(group)) {
    if (opts.ifNotExists) return false;
    throw new CanopyError('ERR_REMOTE_EXISTS', `remote ${JSON.stringify(name)} already exists in ${repo.path}/config`, { remote: name });
  }
  if (!url) throw new CanopyError('ERR_INVALID_ARGUMENT', 'a remote needs a URL', { remote: name });
  const kf = repo.config;
  kf.set(group, 'url', url);
  if (opts.branches?.length) kf.set(group, 'branches', opts.branches.map((b) => assertRef(b) + ';').join(''));
  for (const [k, v] of opts.set ?? []) {
    if (!/^[A-Za-z0-9-_.]+$/.test(k)) throw new CanopyError('ERR_INVALID_ARGUMENT', `invalid remote option name ${JSON.stringify(k)}`, { key: k });
    kf.set(group, k, v);
  }
  if (opts.noGpgVerify) kf.set(group, 'gpg-verify', 'false');
  repo.saveConfig();
  return true;
}

/**
 * Removes a remote and its keyring. Returns false when it did not exist and
 * `ifExists` was given. Throws ERR_REMOTE_NOT_FOUND, ERR_IO. Refs already
 * pulled from it (`refs/remotes/NAME/`) are kept, as ostree keeps them.
 */
export function deleteRemote(repo: Repo, name: string, opts: { ifExists?: boolean } = {}): boolean {
  const group = remoteGroup(name);
  if (!repo.config.hasGroup(group)) {
    if (opts.ifExists) return false;
    throw new CanopyError('ERR_REMOTE_NOT_FOUND', `remote ${JSON.stringify(name)} is not configured in ${repo.path}/config`, { remote: name });
  }
  repo.config.remove(group);
  repo.saveConfig();
  const ring = remoteKeyringPath(repo, name);
  try {
    rmSync(ring, { force: true });
  } catch (e) {
    throw ioError(e, 'remove', ring);
  }
  return true;
}

/** Sets (or with `value` undefined removes) one option of an existing remote. */
export function setRemoteOption(repo: Repo, name: string, key: string, value: string | undefined): void {
  const group = remoteGroup(name);
  if (!repo.config.hasGroup(group)) throw new CanopyError('ERR_REMOTE_NOT_FOUND', `remote ${JSON.stringify(name)} is not configured`, { remote: name });
  if (value === undefined) repo.config.remove(group, key);
  else repo.config.set(group, key, value);
  repo.saveConfig();
}

/** The remote's keyring bytes, or undefined when it has none. */
export function readRemoteKeyring(repo: Repo, name: string): Buffer | undefined {
  const p = remoteKeyringPath(repo, name);
  if (!existsSync(p)) return undefined;
  try {
    return readFileSync(p);
  } catch (e) {
    throw ioError(e, 'read', p);
  }
}

/** Replaces the remote's keyring atomically (the caller validated the keys). */
export function writeRemoteKeyring(repo: Repo, name: string, bytes: Uint8Array): void {
  const p = remoteKeyringPath(repo, name);
  try {
    writeFileSync(`${p}.tmp`, bytes, { mode: 0o644 });
    renameSync(`${p}.tmp`, p);
  } catch (e) {
    throw ioError(e, 'write', p);
  }
}
