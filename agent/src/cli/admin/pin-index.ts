/** The shared body of `admin pin` and `admin unpin`. */
import { setPinned } from '../../sysroot/index';
import type { RunContext } from '../command';
import { indexOperand, sysrootOptions, sysrootPath } from './common';

export async function pinIndexes(ctx: RunContext, command: string, sysrootGiven: string | undefined, operands: string[], pinned: boolean): Promise<void> {
  const sysroot = sysrootPath(ctx, sysrootGiven);
  const results: Array<{ index: number; changed: boolean; pinned: boolean }> = [];
  const lines: string[] = [];
  for (const s of operands) {
    const index = indexOperand(command, s);
    const r = await setPinned(sysroot, index, pinned, sysrootOptions(ctx, sysroot));
    results.push({ index, changed: r.changed, pinned });
    lines.push(r.changed ? `Deployment ${index} is now ${pinned ? 'pinned' : 'unpinned'}` : `Deployment ${index} is already ${pinned ? 'pinned' : 'unpinned'}`);
  }
  ctx.out.result({ deployments: results }, () => lines.join('\n'));
}
