/** `canopy-agent admin os-init OS`: create a stateroot (as `ostree admin os-init`). */
import { osInit } from '../../sysroot/index';
import { defineCommand } from '../command';
import { sysrootPath, SYSROOT_ONLY } from './common';

export const osInitCommand = defineCommand({
  name: 'admin os-init',
  summary: 'Create a stateroot (ostree/deploy/OS with its shared /var)',
  usage: 'OS',
  options: { ...SYSROOT_ONLY },
  operands: [1, 1],
  repo: false,
}, (ctx, { values, operands }) => {
  const sysroot = sysrootPath(ctx, values.sysroot);
  osInit(sysroot, operands[0]);
  ctx.out.result({ sysroot, stateroot: operands[0] }, () => `ostree/deploy/${operands[0]} initialized as OSTree root`);
});
