/**
 * `canopy pull-local SRC_REPO [REF…]`: copy commits from another repository
 * on this machine (any mode into any mode), as `ostree pull-local` does.
 * Every object is checked on the way; refs go to refs/heads (or to
 * refs/remotes/NAME with --remote).
 */
import { resolve } from 'node:path';
import type { PullProgress } from '../pull/index';
import { listRefs, Repo } from '../repo/index';
import { intOption } from './cli-args';
import { defineCommand } from './command';
import { formatSizeSi } from './progress';

export const pullLocalCommand = defineCommand({
  name: 'pull-local',
  summary: 'Copy commits from another local repository',
  usage: 'SRC_REPO [REF…]',
  description: 'REF is a ref, REF@CHECKSUM or a commit checksum; without REF, every local ref of SRC_REPO.',
  options: {
    remote: { type: 'string', value: 'NAME', help: 'Write refs/remotes/NAME/REF instead of refs/heads/REF' },
    depth: { type: 'string', value: 'N', help: 'Also copy N parent commits (-1: all; default 0)' },
    'commit-metadata-only': { type: 'boolean', help: 'Copy only the commits (they stay partial)' },
    'allow-downgrade': { type: 'boolean', help: 'Allow moving a ref to an older commit' },
  },
  operands: [1, Infinity],
}, async (ctx, { values, operands }) => {
  const [src, ...given] = operands;
  const srcPath = resolve(ctx.io.cwd, src);
  const refs = given.length ? given : listRefs(Repo.open(srcPath)).map((r) => r.name);
  const repo = ctx.openRepo();
  const progress = ctx.progress('pull-local');
  const { pullLocal } = await import('../pull/index');
  let r;
  try {
    r = await pullLocal(srcPath, repo, refs, {
      remote: values.remote,
      depth: intOption('pull-local', 'depth', values.depth, -1) ?? 0,
      commitMetadataOnly: values['commit-metadata-only'],
      allowDowngrade: values['allow-downgrade'],
      onProgress: (p: PullProgress) => progress.update({ done: p.objectsDone, total: p.objectsTotal || undefined }),
    });
  } finally {
    progress.finish();
  }
  ctx.out.result(r, () => [
    ...r.refs.map((x) => `${x.ref} ${x.commit}${x.changed ? '' : ' (unchanged)'}`),
    `${r.metadataFetched} metadata, ${r.contentFetched} content objects copied (${formatSizeSi(r.bytesTransferred)})`,
  ].join('\n'));
});
