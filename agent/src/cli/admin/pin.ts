/** `canopy-agent admin pin INDEX…`: keep deployments through later deploys (as `ostree admin pin`). */
import { defineCommand } from '../command';
import { SYSROOT_ONLY } from './common';
import { pinIndexes } from './pin-index';

export const pinCommand = defineCommand({
  name: 'admin pin',
  summary: 'Pin deployments so later deploys keep them',
  usage: 'INDEX…',
  options: { ...SYSROOT_ONLY, unpin: { type: 'boolean', help: 'Unpin instead (same as admin unpin)' } },
  operands: [1, 64],
  repo: false,
}, (ctx, { values, operands }) => pinIndexes(ctx, 'admin pin', values.sysroot, operands, !values.unpin));
