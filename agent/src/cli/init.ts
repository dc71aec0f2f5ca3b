/** `canopy init`: create an empty repository (as `ostree init`). */
import { CanopyError } from '../core/errors';
import { Repo } from '../repo/index';
import type { RepoMode } from '../objects/index';
import { usageError } from './cli-args';
import { defineCommand } from './command';

const MODES: Record<string, RepoMode> = { archive: 'archive', 'archive-z2': 'archive', bare: 'bare', 'bare-user-only': 'bare-user-only' };

/** Collection ids are reverse-DNS names: at least two dot-separated elements. */
const COLLECTION_ID = /^[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z_][A-Za-z0-9_-]*)+$/;

export const initCommand = defineCommand({
  name: 'init',
  summary: 'Create an empty repository',
  usage: '',
  description: 'Creates the repository at --repo (or $OSTREE_REPO, or the current directory).\n'
    + 'archive repositories are for serving over HTTP, bare for a device running as root,\n'
    + 'bare-user-only for unprivileged use and tests.',
  options: {
    mode: { type: 'string', value: 'MODE', help: 'archive (also archive-z2), bare or bare-user-only (default bare)' },
    'collection-id': { type: 'string', value: 'ID', help: 'Globally unique reverse-DNS id for the refs of this repository' },
  },
  operands: [0, 0],
}, (ctx, { values }) => {
  const modeName = values.mode ?? 'bare';
  const mode = MODES[modeName];
  if (!Object.hasOwn(MODES, modeName)) {
    if (modeName === 'bare-user' || modeName === 'bare-split-xattrs') {
      throw new CanopyError('ERR_REPO_MODE', `repository mode ${modeName} is not supported (archive, bare and bare-user-only are)`, { mode: modeName });
    }
    throw usageError('init', `invalid --mode ${JSON.stringify(modeName)} (archive, archive-z2, bare, bare-user-only)`);
  }
  const cid = values['collection-id'];
  if (cid !== undefined && (cid.length > 255 || !COLLECTION_ID.test(cid))) {
    throw usageError('init', `invalid --collection-id ${JSON.stringify(cid)}: it must be a reverse-DNS name such as org.example.Os`);
  }
  const repo = Repo.init(ctx.repoPath, { mode, collectionId: cid });
  ctx.out.result({ path: repo.path, mode: repo.mode, collectionId: cid ?? null }, () => '');
});
