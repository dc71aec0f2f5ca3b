/**
 * The agent's remote in the sysroot's repository, written from the
 * configuration (`remote` section) so that the puller applies the same
 * trust policy as `ostree pull` would with that remote:
 *
 * - ed25519 key files -> `sign-verify=ed25519` and the keys (revoked ones
 *   left out) in `verification-ed25519-key`;
 * - OpenPGP key files -> `gpg-verify=true` and `gpgkeypath`;
 * - no key at all -> `gpg-verify=true` with no keyring: every commit is
 *   refused. Verification is never switched off by the agent.
 *
 * The group is rewritten only when it differs, so the config file is not
 * touched on every start.
 */
import { readFileSync } from 'node:fs';
import { ioError } from '../core/errors';
import type { AgentConfig } from '../config/index';
import { Ed25519KeySet, encodeEd25519Key } from '../sign/index';
import type { Repo } from '../repo/index';

/** The key/value pairs of the remote's config group, in a fixed order. */
export function remoteOptions(remote: AgentConfig['remote'], read: (p: string) => Uint8Array = (p) => readFileSync(p)): Array<[string, string]> {
  const load = (p: string): Uint8Array => {
    try {
      return read(p);
    } catch (e) {
      throw ioError(e, 'read key file', p);
    }
  };
  const opts: Array<[string, string]> = [['url', remote.url]];
  const k = remote.keys;
  if (k.ed25519.length > 0) {
    const trusted = Ed25519KeySet.fromFiles(k.ed25519.map((p) => ({ source: p, text: load(p) })));
    const revoked = Ed25519KeySet.fromFiles(k.ed25519Revoked.map((p) => ({ source: p, text: load(p) })), { allowNoKeys: true });
    const keys = trusted.keys().filter((key) => !revoked.has(key)).map(encodeEd25519Key);
    opts.push(['sign-verify', 'ed25519'], ['verification-ed25519-key', keys.join(';')]);
  }
  if (k.openpgp.length > 0) opts.push(['gpg-verify', 'true'], ['gpgkeypath', k.openpgp.join(';')]);
  else if (k.ed25519.length > 0) opts.push(['gpg-verify', 'false']);
  else opts.push(['gpg-verify', 'true']);
  if (remote.tls.ca) opts.push(['tls-ca-path', remote.tls.ca]);
  if (remote.tls.cert) opts.push(['tls-client-cert-path', remote.tls.cert]);
  if (remote.tls.key) opts.push(['tls-client-key-path', remote.tls.key]);
  if (remote.tls.pinnedSpki?.length) opts.push(['tls-pinned-spki', remote.tls.pinnedSpki.join(';')]);
  if (remote.proxy) opts.push(['proxy', remote.proxy]);
  return opts;
}

/**
 * Makes the repository's `remote "<name>"` group say exactly what the
 * configuration says. Returns whether the config file was rewritten.
 *
 * @throws ERR_CONFIG_INVALID for a malformed key file; ERR_IO when a key
 *   file or the repository config cannot be read or written.
 */
export function syncRemote(repo: Repo, remote: AgentConfig['remote'], read?: (p: string) => Uint8Array): boolean {
  const group = `remote "${remote.name}"`;
  const want = remoteOptions(remote, read);
  const kf = repo.config;
  const have = kf.hasGroup(group) ? kf.keys(group).map((key) => [key, kf.get(group, key)] as [string, string | undefined]) : [];
  if (have.length === want.length && have.every(([key, v], i) => key === want[i][0] && v === want[i][1])) return false;
  if (kf.hasGroup(group)) kf.remove(group);
  for (const [key, v] of want) kf.set(group, key, v);
  repo.saveConfig();
  return true;
}
