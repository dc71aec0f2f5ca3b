/** `canopy cat`: write the content of files in a commit to stdout (as `ostree cat`). */
import { isLinkMode } from '../objects/index';
import { usageError } from './cli-args';
import { defineCommand } from './command';
import { resolveCommit, resolveTreePath } from './tree-path';

export const catCommand = defineCommand({
  name: 'cat',
  summary: 'Write the content of files in a commit to stdout',
  usage: 'REV PATH…',
  description: 'Each file\'s checksum is verified before its bytes are written.',
  options: {},
  operands: [2, Infinity],
  json: false,
}, (ctx, { operands }) => {
  const repo = ctx.openRepo();
  const commit = repo.loadCommit(resolveCommit(repo, operands[0]));
  // Resolve every path first, so a bad one fails before any output.
  const files = operands.slice(1).map((p) => {
    const node = resolveTreePath(repo, commit, p);
    if (node.kind !== 'file') throw usageError('cat', `${node.path} is a directory`, { path: node.path });
    return node;
  });
  for (const f of files) {
    const obj = repo.readFileObject(f.checksum);
    if (isLinkMode(obj.header.mode)) throw usageError('cat', `${f.path} is a symbolic link to ${obj.header.symlinkTarget}`, { path: f.path });
    ctx.out.bytes(obj.content);
  }
});
