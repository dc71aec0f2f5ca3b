/** `canopy-agent admin upgrade`: deploy what the origin ref points to now (pulled beforehand). */
import { upgrade } from '../../sysroot/index';
import { defineCommand } from '../command';
import { sysrootOptions, sysrootPath, SYSROOT_OPTIONS } from './common';

export const upgradeCommand = defineCommand({
  name: 'admin upgrade',
  summary: 'Deploy the commit the current deployment\'s origin ref points to in the sysroot repository',
  usage: '',
  description: 'Pull the ref first (canopy-agent pull); without a newer commit nothing happens.',
  options: {
    ...SYSROOT_OPTIONS,
    'allow-downgrade': { type: 'boolean', help: 'Deploy even when the commit is older than the current one' },
    stage: { type: 'boolean', help: 'Finish the deployment at shutdown (needs a booted system)' },
    'no-prune': { type: 'boolean', help: 'Do not prune the repository afterwards' },
  },
  operands: [0, 0],
  repo: false,
}, async (ctx, { values }) => {
  const sysroot = sysrootPath(ctx, values.sysroot);
  const r = await upgrade(sysroot, {
    ...sysrootOptions(ctx, sysroot), stateroot: values.os, allowDowngrade: values['allow-downgrade'], stage: values.stage, noPrune: values['no-prune'],
  });
  ctx.out.result({ changed: r.changed, from: r.from, to: r.to, staged: r.deploy?.staged ?? false }, () => '');
});
