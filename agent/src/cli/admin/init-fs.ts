/** `canopy-agent admin init-fs PATH`: create an empty sysroot (as `ostree admin init-fs`). */
import { initFs } from '../../sysroot/index';
import { usageError } from '../cli-args';
import { defineCommand } from '../command';
import { sysrootPath, SYSROOT_ONLY } from './common';

export const initFsCommand = defineCommand({
  name: 'admin init-fs',
  summary: 'Create an empty sysroot: boot, ostree/repo (bare), ostree/deploy and the usual top-level directories',
  usage: 'PATH',
  description: 'PATH must exist. With --modern only boot/ and ostree/ are created. The sysroot can also be given as --sysroot.',
  options: {
    ...SYSROOT_ONLY,
    modern: { type: 'boolean', help: 'Only create boot/ and ostree/' },
  },
  operands: [0, 1],
  repo: false,
}, (ctx, { values, operands }) => {
  const given = operands[0] ?? values.sysroot;
  if (given === undefined) throw usageError('admin init-fs', 'PATH must be given');
  const path = sysrootPath(ctx, given);
  initFs(path, { modern: values.modern });
  ctx.out.result({ sysroot: path }, () => '');
});
