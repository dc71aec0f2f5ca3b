/**
 * The second half of writing a deployment, shared by deploy and
 * finalize-staged (ostree's `sysroot_finalize_deployment`).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { SysrootOptions } from './context';
import { dirOf, originOf, type Deployment } from './deployment';
import { mergeEtc } from './etc-merge-apply';
import type { EtcPlan } from './etc-merge';
import { stateRootDir } from './layout';
import type { SysrootContext } from './write-apply';

/** Writes a deployment's origin file atomically. */
export function writeOrigin(ctx: SysrootContext, d: Deployment): void {
  if (d.origin) ctx.fs.writeFileAtomic(join(ctx.path, originOf(d)), d.origin.toString());
}

/**
 * The second half of a deployment (ostree's `sysroot_finalize_deployment`):
 * kernel arguments from `merge` unless set, the /etc merge, `etc/.updated`
 * and `var/.updated` removed, the origin written, the root sealed.
 */
export function finalizeDeployment(ctx: SysrootContext, d: Deployment, merge: Deployment | undefined, opts: SysrootOptions): EtcPlan['counts'] | undefined {
  const dir = join(ctx.path, dirOf(d));
  if (merge && d.bootconfig.get('options') === undefined) {
    const o = merge.bootconfig.get('options');
    if (o !== undefined) d.bootconfig.set('options', o);
  }
  let counts: EtcPlan['counts'] | undefined;
  if (merge) {
    counts = mergeEtc(ctx.fs, join(ctx.path, dirOf(merge)), dir, { xattrs: opts.xattrs }).counts;
    ctx.log?.(`Copying /etc changes: ${counts.modified} modified, ${counts.removed} removed, ${counts.added} added`);
  }
  ctx.fs.unlinkIfExists(join(dir, 'etc/.updated'));
  const varDir = join(ctx.path, stateRootDir(d.stateroot), 'var');
  ctx.fs.unlinkIfExists(join(varDir, '.updated'));
  // ostree relabels /var once (a no-op without an SELinux policy) and leaves this stamp.
  if (existsSync(varDir) && !existsSync(join(varDir, '.ostree-selabeled'))) ctx.fs.writeFileAtomic(join(varDir, '.ostree-selabeled'), '');
  writeOrigin(ctx, d);
  ctx.fs.seal(dir);
  return counts;
}
