/** `canopy rev-parse`: print the commit a revision names (as `ostree rev-parse`). */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { CanopyError } from '../core/errors';
import type { Repo } from '../repo/index';
import { usageError } from './cli-args';
import { defineCommand } from './command';
import { resolveCommit } from './tree-path';

export const revParseCommand = defineCommand({
  name: 'rev-parse',
  summary: 'Print the commit checksum a revision names',
  usage: 'REV',
  description: 'REV is a checksum, a ref, remote:ref, or any of these followed by ^ (the parent), repeatable.',
  options: {
    single: { type: 'boolean', short: 'S', help: 'Print the only commit of a repository that has exactly one (no REV)' },
  },
  operands: [0, 1],
}, (ctx, { values, operands }) => {
  const repo = ctx.openRepo();
  let checksum: string;
  if (values.single) {
    if (operands.length) throw usageError('rev-parse', '--single takes no REV');
    checksum = onlyCommit(repo);
  } else {
    if (!operands.length) throw usageError('rev-parse', 'missing operand REV');
    checksum = resolveCommit(repo, operands[0]);
  }
  ctx.out.result({ rev: operands[0] ?? null, checksum }, () => checksum);
});

function onlyCommit(repo: Repo): string {
  const found: string[] = [];
  const objects = join(repo.path, 'objects');
  for (const d of readdirSync(objects)) {
    if (!/^[0-9a-f]{2}$/.test(d)) continue;
    for (const f of readdirSync(join(objects, d))) {
      if (f.endsWith('.commit')) found.push(d + f.slice(0, -'.commit'.length));
      if (found.length > 1) throw new CanopyError('ERR_REF_NOT_FOUND', `the repository has more than one commit (${found.join(', ')}, …)`, { commits: found });
    }
  }
  if (found.length === 0) throw new CanopyError('ERR_REF_NOT_FOUND', 'the repository has no commit');
  return found[0];
}
