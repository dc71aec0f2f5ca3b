/** `canopy-agent admin rollback`: make the previous deployment the default boot entry. */
import { nameOf, rollback } from '../../sysroot/index';
import { defineCommand } from '../command';
import { sysrootOptions, sysrootPath, SYSROOT_OPTIONS } from './common';

export const rollbackCommand = defineCommand({
  name: 'admin rollback',
  summary: 'Make the previous deployment the default (nothing is deleted)',
  usage: '',
  description: 'Booted into the default deployment: the one after it becomes the default.\n'
    + 'Booted into another one: the booted deployment becomes the default again.',
  options: { ...SYSROOT_OPTIONS },
  operands: [0, 0],
  repo: false,
}, async (ctx, { values }) => {
  const sysroot = sysrootPath(ctx, values.sysroot);
  const r = await rollback(sysroot, { ...sysrootOptions(ctx, sysroot), stateroot: values.os });
  ctx.out.result({ deployment: nameOf(r.deployment), bootswap: r.write.kind }, () => '');
});
