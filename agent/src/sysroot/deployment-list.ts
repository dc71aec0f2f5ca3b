/**
 * The new deployment list of each admin operation, pure:
 *
 * - {@link listAfterDeploy}: ostree's `simple_write_deployment` — the new
 *   deployment first (or right after the booted/merge one with
 *   `notAsDefault`); kept: pinned deployments, other stateroots, the booted
 *   and merge deployments, and with `retainPending` / `retainRollback` those
 *   before / after the booted (else merge) deployment, or all with `retain`;
 *   everything else is left for cleanup.
 * - {@link listAfterRollback}: the previous deployment becomes the default
 *   (`rpm-ostree rollback`: booted default -> the rollback deployment moves
 *   first; booted not default -> the booted one moves first).
 * - {@link listAfterUndeploy}: one deployment removed.
 */
import { CanopyError } from '../core/errors';
import { isPinned, nameOf, sameDeployment, type Deployment } from './deployment';

export interface RetainFlags {
  retain?: boolean;
  retainPending?: boolean;
  retainRollback?: boolean;
  notAsDefault?: boolean;
}

/** The list after adding `added` (see module doc). `current` is the loaded list (may include a staged deployment). */
export function listAfterDeploy(current: readonly Deployment[], added: Deployment, booted: Deployment | undefined, merge: Deployment | undefined, stateroot: string, flags: RetainFlags = {}): Deployment[] {
  const out: Deployment[] = [];
  let addedNew = false;
  if (!flags.notAsDefault) {
    out.push(added);
    addedNew = true;
  }
  const retain = !!flags.retain || (!booted && !merge && (!!flags.retainPending || !!flags.retainRollback));
  let beforeBooted = true;
  let beforeMerge = true;
  for (const d of current) {
    const isBooted = sameDeployment(d, booted);
    const isMerge = sameDeployment(d, merge);
    if (isBooted) beforeBooted = false;
    if (isMerge) beforeMerge = false;
    const passed = booted ? !beforeBooted : !beforeMerge;
    if (retain || isPinned(d) || d.stateroot !== stateroot || (flags.retainPending && !passed) || isBooted || isMerge || (flags.retainRollback && passed)) {
      out.push(d);
    }
    if (!addedNew && passed) {
      out.push(added);
      addedNew = true;
    }
  }
  if (!addedNew) out.push(added);
  return out;
}

/**
 * The list after a rollback of `stateroot` (non-staged deployments only).
 * Throws ERR_DEPLOYMENT_NOT_FOUND when there is nothing to roll back to.
 */
export function listAfterRollback(current: readonly Deployment[], booted: Deployment | undefined, stateroot: string): { list: Deployment[]; target: Deployment } {
  const list = current.filter((d) => !d.staged);
  const mine = list.filter((d) => d.stateroot === stateroot);
  let target: Deployment | undefined;
  if (booted && booted.stateroot === stateroot && !sameDeployment(list[0], booted)) target = list.find((d) => sameDeployment(d, booted));
  else {
    const from = booted && booted.stateroot === stateroot ? mine.findIndex((d) => sameDeployment(d, booted)) : 0;
    target = mine[from + 1];
  }
  if (!target) {
    throw new CanopyError('ERR_DEPLOYMENT_NOT_FOUND', `there is no deployment of ${stateroot} to roll back to`, { stateroot });
  }
  return { list: [target, ...list.filter((d) => d !== target)], target };
}

/** The list without deployment `index`. Throws ERR_DEPLOYMENT_NOT_FOUND, ERR_BOOTED_DEPLOYMENT. */
export function listAfterUndeploy(current: readonly Deployment[], booted: Deployment | undefined, index: number): { list: Deployment[]; removed: Deployment } {
  const removed = current[index];
  if (!Number.isInteger(index) || !removed) {
    throw new CanopyError('ERR_DEPLOYMENT_NOT_FOUND', `there is no deployment ${index} (${current.length} deployments)`, { index });
  }
  if (sameDeployment(removed, booted)) {
    throw new CanopyError('ERR_BOOTED_DEPLOYMENT', `cannot undeploy the booted deployment ${index} (${nameOf(removed)})`, { index });
  }
  return { list: current.filter((_, i) => i !== index), removed };
}
