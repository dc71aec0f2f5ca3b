/** `canopy log`: a commit and its ancestors, newest first (as `ostree log`). */
import { isCanopyError } from '../core/errors';
import { commitInfo, formatCommitText, type CommitInfo } from './commit-info';
import { defineCommand } from './command';
import { resolveCommit } from './tree-path';

export const logCommand = defineCommand({
  name: 'log',
  summary: 'Show a commit and its history',
  usage: 'REV',
  description: 'Walks parents until a commit has none or its parent is not in the repository\n'
    + '("<< History beyond this commit not fetched >>"; "truncated": true in JSON).',
  options: {},
  operands: [1, 1],
}, (ctx, { operands }) => {
  const repo = ctx.openRepo();
  let checksum: string | undefined = resolveCommit(repo, operands[0]);
  const commits: CommitInfo[] = [];
  let text = '';
  let truncated = false;
  const seen = new Set<string>();
  while (checksum !== undefined && !seen.has(checksum)) {
    seen.add(checksum);
    let c;
    try {
      c = repo.loadCommit(checksum);
    } catch (e) {
      if (commits.length > 0 && isCanopyError(e, 'ERR_OBJECT_NOT_FOUND')) {
        truncated = true;
        text += '<< History beyond this commit not fetched >>\n';
        break;
      }
      throw e;
    }
    commits.push(commitInfo(checksum, c));
    if (!ctx.json) text += formatCommitText(checksum, c);
    checksum = c.parent;
  }
  ctx.out.result({ commits, truncated }, () => text);
});
