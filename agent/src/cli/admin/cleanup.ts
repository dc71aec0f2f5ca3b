/** `canopy-agent admin cleanup`: delete what no boot entry references, and prune (as `ostree admin cleanup`). */
import { cleanup } from '../../sysroot/index';
import { defineCommand } from '../command';
import { formatSizeSi } from '../progress';
import { sysrootOptions, sysrootPath, SYSROOT_ONLY } from './common';

export const cleanupCommand = defineCommand({
  name: 'admin cleanup',
  summary: 'Delete old deployments, boot files, boot versions and unreachable objects',
  usage: '',
  description: 'Also finishes the clean-up of an interrupted deploy (loader.tmp, half-written deployments).',
  options: { ...SYSROOT_ONLY, 'no-prune': { type: 'boolean', help: 'Do not prune the repository' } },
  operands: [0, 0],
  repo: false,
}, async (ctx, { values }) => {
  const sysroot = sysrootPath(ctx, values.sysroot);
  const r = await cleanup(sysroot, { ...sysrootOptions(ctx, sysroot), noPrune: values['no-prune'] });
  ctx.out.result({
    removedDeployments: r.plan.removeDeployments.map((d) => d.dir),
    removedBootDirs: r.plan.removeBoot,
    prunedObjects: r.prune?.objectsDeleted ?? 0,
    freedBytes: r.prune?.bytesFreed ?? 0,
  }, () => (r.prune && r.prune.bytesFreed > 0 ? `Freed objects: ${formatSizeSi(r.prune.bytesFreed)}` : ''));
});
