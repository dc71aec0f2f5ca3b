/** `canopy-agent admin undeploy INDEX`: remove one deployment (as `ostree admin undeploy`). */
import { nameOf, undeploy } from '../../sysroot/index';
import { defineCommand } from '../command';
import { indexOperand, sysrootOptions, sysrootPath, SYSROOT_ONLY } from './common';

export const undeployCommand = defineCommand({
  name: 'admin undeploy',
  summary: 'Remove the deployment at INDEX (as admin status lists them, from 0)',
  usage: 'INDEX',
  options: { ...SYSROOT_ONLY, 'no-prune': { type: 'boolean', help: 'Do not prune the repository afterwards' } },
  operands: [1, 1],
  repo: false,
}, async (ctx, { values, operands }) => {
  const sysroot = sysrootPath(ctx, values.sysroot);
  const r = await undeploy(sysroot, indexOperand('admin undeploy', operands[0]), { ...sysrootOptions(ctx, sysroot), noPrune: values['no-prune'] });
  ctx.out.result({ removed: nameOf(r.removed) }, () => '');
});
