/** `canopy-agent admin status`: the deployments, as `ostree admin status` prints them (or JSON). */
import { join } from 'node:path';
import { Repo } from '../../repo/index';
import { formatStatus, loadSysroot, sysrootStatus } from '../../sysroot/index';
import { defineCommand } from '../command';
import { bootedHintFor, sysrootPath, SYSROOT_ONLY } from './common';

export const statusCommand = defineCommand({
  name: 'admin status',
  summary: 'List deployments: booted (*), staged, pending, rollback, version, pinning, origin',
  usage: '',
  options: { ...SYSROOT_ONLY },
  operands: [0, 0],
  repo: false,
}, (ctx, { values }) => {
  const sysroot = sysrootPath(ctx, values.sysroot);
  const state = loadSysroot(sysroot, { booted: bootedHintFor(sysroot) });
  let repo: Repo | undefined;
  try {
    repo = Repo.open(join(state.path, 'ostree/repo'));
  } catch {
    repo = undefined;
  }
  const s = sysrootStatus(state, repo);
  ctx.out.result(s, () => formatStatus(s));
});
