/**
 * `admin status`: the deployments as data (for `--json` and the agent's
 * reports) and as the text `ostree admin status` prints:
 *
 * ```
 * * testos 5a9d….0 (pending)
 *     Version: 2.0
 *     Pinned: yes
 *     origin refspec: testos/main
 * ```
 *
 * `*` marks the booted deployment; `(staged)`, `(pending)` and `(rollback)`
 * are only shown on a booted system. GPG lines are not printed.
 */
import { commitVersion } from '../objects/commit';
import type { Repo } from '../repo/repo';
import { isPinned, nameOf, originRefspec, sameDeployment } from './deployment';
import { pendingAndRollback, type SysrootState } from './load';

export interface DeploymentStatus {
  index: number;
  stateroot: string;
  checksum: string;
  serial: number;
  /** `<checksum>.<serial>`. */
  name: string;
  bootcsum: string;
  bootserial: number;
  version: string | null;
  /** The commit's source title, if it has one (`ostree.source-title`). */
  sourceTitle: string | null;
  /** `[origin] refspec`, or null (no origin file, or another origin type). */
  origin: string | null;
  hasOrigin: boolean;
  pinned: boolean;
  booted: boolean;
  staged: boolean;
  pending: boolean;
  rollback: boolean;
  /** The boot entry's kernel command line. */
  options: string | null;
  title: string | null;
}

export interface SysrootStatus {
  sysroot: string;
  bootversion: number;
  subbootversion: number;
  booted: number | null;
  deployments: DeploymentStatus[];
}

/** The status of a loaded sysroot; commit data from `repo` when it has the commit. */
export function sysrootStatus(state: SysrootState, repo: Repo | undefined): SysrootStatus {
  const { pending, rollback } = state.booted ? pendingAndRollback(state) : {};
  const deployments = state.deployments.map((d): DeploymentStatus => {
    let version: string | null = null;
    let sourceTitle: string | null = null;
    try {
      const c = repo?.loadCommit(d.csum);
      if (c) {
        version = commitVersion(c) ?? null;
        const st = c.metadata.find(([k]) => k === 'ostree.source-title')?.[1];
        if (st && st.type === 's') sourceTitle = st.value as string;
      }
    } catch {
      // ostree stumbles on without the commit too
    }
    return {
      index: d.index, stateroot: d.stateroot, checksum: d.csum, serial: d.serial, name: nameOf(d), bootcsum: d.bootcsum, bootserial: d.bootserial,
      version, sourceTitle, origin: originRefspec(d) ?? null, hasOrigin: d.origin !== undefined, pinned: isPinned(d),
      booted: sameDeployment(d, state.booted), staged: d.staged, pending: sameDeployment(d, pending), rollback: sameDeployment(d, rollback),
      options: d.bootconfig.get('options') ?? null, title: d.bootconfig.get('title') ?? null,
    };
  });
  return {
    sysroot: state.path, bootversion: state.bootversion, subbootversion: state.subbootversion,
    booted: state.booted ? state.booted.index : null, deployments,
  };
}

/** The text of `ostree admin status` for `s`. */
export function formatStatus(s: SysrootStatus): string {
  if (s.deployments.length === 0) return 'No deployments.\n';
  let out = '';
  for (const d of s.deployments) {
    const label = d.staged ? ' (staged)' : d.pending ? ' (pending)' : d.rollback ? ' (rollback)' : '';
    out += `${d.booted ? '*' : ' '} ${d.stateroot} ${d.name}${label}\n`;
    if (d.version !== null) out += `    Version: ${d.version}\n`;
    if (d.pinned) out += '    Pinned: yes\n';
    if (!d.hasOrigin) out += '    origin: none\n';
    else {
      out += d.origin === null ? '    origin: <unknown origin type>\n' : `    origin refspec: ${d.origin}\n`;
      if (d.sourceTitle !== null) out += `    \`- ${d.sourceTitle}\n`;
    }
  }
  return out;
}
