/**
 * `canopy sign`: add signatures to a commit's detached metadata, as
 * `ostree sign --keys-file` (ed25519) and `ostree gpg-sign` (OpenPGP) do.
 * Running it again with the same keys adds nothing.
 */
import { signCommit } from '../fleet/index';
import { usageError } from './cli-args';
import { defineCommand } from './command';
import { KEY_OPTIONS, signingKeys } from './operator-options';
import { resolveCommit } from './tree-path';

export const signCommand = defineCommand({
  name: 'sign',
  summary: 'Sign a commit (ed25519 and/or OpenPGP), appending to its .commitmeta',
  usage: 'COMMIT',
  options: {
    'keys-file': { type: 'string', multiple: true, value: 'FILE', help: 'ed25519 secret keys, one base64 key a line (as ostree sign --keys-file)' },
    ...KEY_OPTIONS,
  },
  operands: [1, 1],
}, async (ctx, { values, operands }) => {
  const keys = signingKeys(ctx, { ...values, 'sign-key': [...(values['keys-file'] ?? []), ...(values['sign-key'] ?? [])] });
  if (!keys.ed25519?.length && !keys.openpgp?.length) throw usageError('sign', 'give --keys-file=FILE (ed25519) or --gpg-key=FILE (OpenPGP)');
  const repo = ctx.openRepo();
  const commit = resolveCommit(repo, operands[0]);
  const r = await signCommit(repo, commit, keys);
  ctx.out.result(r, () => r.outcomes.map((o) => `${o.engine} ${o.key}: ${o.added ? 'signed' : 'already signed'}`).join('\n'));
});
