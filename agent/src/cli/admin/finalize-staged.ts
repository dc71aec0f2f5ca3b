/** `canopy-agent admin finalize-staged`: finish a staged deployment; run at shutdown by a systemd unit. */
import { finalizeStaged, nameOf } from '../../sysroot/index';
import { defineCommand } from '../command';
import { sysrootOptions, sysrootPath, SYSROOT_ONLY } from './common';

export const finalizeStagedCommand = defineCommand({
  name: 'admin finalize-staged',
  summary: 'Merge /etc into the staged deployment and make it the default (at shutdown)',
  usage: '',
  description: 'Run by canopy-agent-finalize-staged.service when the system shuts down. Does nothing when\n'
    + 'no deployment is staged or finalization is locked. A failure is also recorded in\n'
    + '/boot/ostree/finalize-failure.stamp.',
  options: { ...SYSROOT_ONLY },
  operands: [0, 0],
  repo: false,
}, async (ctx, { values }) => {
  const sysroot = sysrootPath(ctx, values.sysroot);
  const r = await finalizeStaged(sysroot, sysrootOptions(ctx, sysroot));
  ctx.out.result({ finalized: r.finalized, reason: r.reason ?? null, deployment: r.deployment ? nameOf(r.deployment) : null }, () => '');
});
