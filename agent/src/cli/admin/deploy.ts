/** `canopy-agent admin deploy REFSPEC`: deploy a commit already in the sysroot's repository (as `ostree admin deploy`). */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ioError } from '../../core/errors';
import { KeyFile } from '../../repo/index';
import { deploy, nameOf } from '../../sysroot/index';
import { defineCommand } from '../command';
import { sysrootOptions, sysrootPath, SYSROOT_OPTIONS } from './common';

export const KARG_OPTIONS = {
  karg: { type: 'string', multiple: true, value: 'NAME=VALUE', help: 'Set a kernel argument, replacing earlier ones with the same name' },
  'karg-append': { type: 'string', multiple: true, value: 'NAME=VALUE', help: 'Append a kernel argument (e.g. a second console=)' },
  'karg-delete': { type: 'string', multiple: true, value: 'NAME[=VALUE]', help: 'Delete a kernel argument' },
  'karg-none': { type: 'boolean', help: 'Do not take the kernel arguments of the merge deployment' },
} as const;

export const deployCommand = defineCommand({
  name: 'admin deploy',
  summary: 'Check out a commit as a new deployment, merge /etc, and make it the default boot entry',
  usage: 'REFSPEC',
  description: 'REFSPEC is a ref, remote:ref or commit checksum in the sysroot repository (pulling is separate).\n'
    + 'Kernel arguments and /etc come from the booted deployment of the stateroot, else its first one.\n'
    + 'Other deployments of the stateroot are removed unless pinned, booted or the merge source.',
  options: {
    ...SYSROOT_OPTIONS,
    ...KARG_OPTIONS,
    'origin-file': { type: 'string', value: 'FILE', help: 'Use this origin key file instead of one that follows REFSPEC' },
    retain: { type: 'boolean', help: 'Keep all previous deployments' },
    'retain-pending': { type: 'boolean', help: 'Keep pending deployments' },
    'retain-rollback': { type: 'boolean', help: 'Keep rollback deployments' },
    'not-as-default': { type: 'boolean', help: 'Add the deployment after the booted one instead of first' },
    'no-merge': { type: 'boolean', help: 'Do not merge /etc or kernel arguments from the current deployment' },
    'no-prune': { type: 'boolean', help: 'Do not prune the repository afterwards' },
    stage: { type: 'boolean', help: 'Finish the deployment at shutdown (needs a booted system)' },
    'lock-finalization': { type: 'boolean', help: 'With --stage: do not finalize until the lock is removed' },
  },
  operands: [1, 1],
  repo: false,
}, async (ctx, { values, operands }) => {
  const sysroot = sysrootPath(ctx, values.sysroot);
  let origin: string | KeyFile | undefined;
  if (values['origin-file'] !== undefined) {
    const p = resolve(ctx.io.cwd, values['origin-file']);
    let text: string;
    try {
      text = readFileSync(p, 'utf8');
    } catch (e) {
      throw ioError(e, 'read', p);
    }
    origin = KeyFile.parse(text, p);
  }
  const r = await deploy(sysroot, operands[0], {
    ...sysrootOptions(ctx, sysroot),
    stateroot: values.os,
    origin,
    kargs: values['karg-none'] ? [] : undefined,
    kargEdits: { replace: values.karg, append: values['karg-append'], delete: values['karg-delete'] },
    retain: values.retain,
    retainPending: values['retain-pending'],
    retainRollback: values['retain-rollback'],
    notAsDefault: values['not-as-default'],
    noMerge: values['no-merge'],
    noPrune: values['no-prune'],
    stage: values.stage,
    lockFinalization: values['lock-finalization'],
  });
  ctx.out.result({
    deployment: nameOf(r.deployment), stateroot: r.deployment.stateroot, checksum: r.deployment.csum, serial: r.deployment.serial,
    bootcsum: r.deployment.bootcsum, staged: r.staged, etc: r.etc ?? null, bootswap: r.write?.kind ?? null,
    prunedObjects: r.cleanup?.prune?.objectsDeleted ?? 0,
  }, () => '');
});
