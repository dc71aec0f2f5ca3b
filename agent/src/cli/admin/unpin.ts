/** `canopy-agent admin unpin INDEX…` (as `ostree admin pin --unpin`). */
import { defineCommand } from '../command';
import { SYSROOT_ONLY } from './common';
import { pinIndexes } from './pin-index';

export const unpinCommand = defineCommand({
  name: 'admin unpin',
  summary: 'Unpin deployments',
  usage: 'INDEX…',
  options: { ...SYSROOT_ONLY },
  operands: [1, 64],
  repo: false,
}, (ctx, { values, operands }) => pinIndexes(ctx, 'admin unpin', values.sysroot, operands, false));
