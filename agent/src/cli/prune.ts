/** `canopy prune`: delete objects no commit worth keeping reaches (as `ostree prune`). */
import { prune } from '../repo/index';
import { intOption } from './cli-args';
import { defineCommand } from './command';
import { parseDateTime } from './datetime';
import { formatSizeSi } from './progress';

export const pruneCommand = defineCommand({
  name: 'prune',
  summary: 'Delete unreachable objects',
  usage: '',
  description: 'Without --refs-only every commit in the repository is a starting point, so only objects no\n'
    + 'commit reaches go; with --refs-only, commits no ref reaches go too. --keep-younger-than=DATE\n'
    + '(implies --refs-only) keeps each ref\'s history back to the first commit older than DATE.\n'
    + 'Static deltas whose target commit is deleted are deleted with it.',
  options: {
    'refs-only': { type: 'boolean', help: 'Only commits reachable from refs are kept' },
    depth: { type: 'string', value: 'DEPTH', help: 'Parents to keep behind each starting commit (default -1: all)' },
    'keep-younger-than': { type: 'string', value: 'DATE', help: 'Prune commits older than DATE (e.g. "30 days ago", 2024-01-01)' },
    'no-prune': { type: 'boolean', help: 'Only report what would be deleted' },
    'dry-run': { type: 'boolean', help: 'Same as --no-prune' },
  },
  operands: [0, 0],
}, (ctx, { values }) => {
  const depth = intOption('prune', 'depth', values.depth, -1);
  const keep = values['keep-younger-than'];
  const keepYoungerThan = keep === undefined ? undefined : parseDateTime(keep, ctx.io.now());
  const dryRun = Boolean(values['no-prune'] || values['dry-run']);
  const repo = ctx.openRepo();
  const result = prune(repo, { refsOnly: Boolean(values['refs-only']) || keepYoungerThan !== undefined, depth, keepYoungerThan, dryRun });
  ctx.out.result({ dryRun, ...result }, () => {
    const lines = [`Total objects: ${result.objectsTotal}`];
    if (result.objectsDeleted === 0) lines.push('No unreachable objects');
    else if (dryRun) lines.push(`Would delete: ${result.objectsDeleted} objects, freeing ${formatSizeSi(result.bytesFreed)}`);
    else lines.push(`Deleted ${result.objectsDeleted} objects, ${formatSizeSi(result.bytesFreed)} freed`);
    if (result.deltasDeleted.length) lines.push(`${dryRun ? 'Would delete' : 'Deleted'} static deltas: ${result.deltasDeleted.join(', ')}`);
    return lines.join('\n');
  });
});
