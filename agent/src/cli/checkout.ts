/** `canopy checkout`: write a commit's tree into a directory (as `ostree checkout`). */
import { isAbsolute, resolve } from 'node:path';
import { checkout } from '../repo/index';
import { usageError } from './cli-args';
import { defineCommand } from './command';
import { resolveCommit } from './tree-path';

export const checkoutCommand = defineCommand({
  name: 'checkout',
  summary: 'Check out a commit into a directory',
  usage: 'REV [DEST]',
  description: 'DEST (default: REV as a path) must not exist unless --union or --union-add is given.\n'
    + 'From bare repositories files are hardlinked to the objects (falling back to copies);\n'
    + 'from archive repositories they are inflated and verified.',
  options: {
    'user-mode': { type: 'boolean', short: 'U', help: 'Do not change ownership or apply extended attributes; strip setuid/setgid' },
    'require-hardlinks': { type: 'boolean', short: 'H', help: 'Fail instead of copying when a file cannot be hardlinked' },
    'force-copy': { type: 'boolean', short: 'C', help: 'Never hardlink' },
    union: { type: 'boolean', help: 'Keep existing directories, overwrite existing files' },
    'union-add': { type: 'boolean', help: 'Keep existing files and directories, only add new ones' },
    subpath: { type: 'string', value: 'PATH', help: 'Check out only this path of the commit' },
    'no-xattrs': { type: 'boolean', help: 'Do not apply extended attributes' },
    fsync: { type: 'string', value: 'POLICY', help: 'true (default) flushes the destination before returning; false does not' },
  },
  operands: [1, 2],
}, async (ctx, { values, operands }) => {
  if (values['require-hardlinks'] && values['force-copy']) throw usageError('checkout', '-H/--require-hardlinks and -C/--force-copy cannot be combined');
  if (values.union && values['union-add']) throw usageError('checkout', '--union and --union-add cannot be combined');
  const fsyncPolicy = values.fsync ?? 'true';
  if (!['true', 'false', 'yes', 'no', '1', '0'].includes(fsyncPolicy)) throw usageError('checkout', `--fsync takes true or false, not ${JSON.stringify(fsyncPolicy)}`);
  const rev = operands[0];
  const destArg = operands[1] ?? rev;
  const dest = isAbsolute(destArg) ? destArg : resolve(ctx.io.cwd, destArg);
  const repo = ctx.openRepo();
  const commit = resolveCommit(repo, rev);
  const progress = ctx.progress('checkout');
  let stats;
  try {
    stats = await checkout(repo, commit, dest, {
      subpath: values.subpath,
      union: values.union,
      unionAdd: values['union-add'],
      userMode: values['user-mode'],
      linkMode: values['require-hardlinks'] ? 'hardlink' : values['force-copy'] ? 'copy' : 'auto',
      noXattrs: values['no-xattrs'],
      fsync: ['true', 'yes', '1'].includes(fsyncPolicy),
      onProgress: (p) => progress.update({ done: p.filesDone, total: p.filesTotal, unit: 'files' }),
    });
  } finally {
    progress.finish();
  }
  ctx.out.result({ commit, dest, subpath: values.subpath ?? '/', ...stats }, () => '');
});
