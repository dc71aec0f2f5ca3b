import { strict as assert } from 'node:assert';
import { isCanopyError } from '../../../agent/src/core/errors';
import { KeyFile } from '../../../agent/src/repo/keyfile';
import { BlsEntry } from '../../../agent/src/sysroot/bls-entry';
import type { Deployment } from '../../../agent/src/sysroot/deployment';
import { listAfterDeploy, listAfterRollback, listAfterUndeploy } from '../../../agent/src/sysroot/deployment-list';

let n = 0;
function dep(name: string, opts: { os?: string; pinned?: boolean; staged?: boolean } = {}): Deployment {
  const origin = new KeyFile();
  origin.set('origin', 'refspec', 'os/main');
  if (opts.pinned) origin.set('libostree-transient', 'pinned', 'true');
  return { index: n++, stateroot: opts.os ?? 'os', csum: name.padEnd(64, '0'), serial: 0, bootcsum: 'b'.repeat(64), bootserial: 0, bootconfig: new BlsEntry(), origin, staged: !!opts.staged };
}
const names = (l: Deployment[]): string[] => l.map((d) => d.csum.replace(/0+$/, ''));

describe('sysroot/deployment-list', function () {
  const [a, b, c] = [dep('a'), dep('b'), dep('c')];
  const x = dep('x');

  it('deploy keeps only the booted and merge deployments of the stateroot', function () {
    assert.deepEqual(names(listAfterDeploy([a, b, c], x, b, b, 'os')), ['x', 'b']);
    assert.deepEqual(names(listAfterDeploy([a, b, c], x, undefined, a, 'os')), ['x', 'a'], 'not booted: the merge deployment (the first)');
  });

  it('deploy keeps pinned deployments and other stateroots', function () {
    const p = dep('p', { pinned: true });
    const o = dep('o', { os: 'other' });
    assert.deepEqual(names(listAfterDeploy([a, p, o, c], x, undefined, a, 'os')), ['x', 'a', 'p', 'o']);
  });

  it('retain flags keep pending / rollback / everything around the booted deployment', function () {
    assert.deepEqual(names(listAfterDeploy([a, b, c], x, b, b, 'os', { retainPending: true })), ['x', 'a', 'b']);
    assert.deepEqual(names(listAfterDeploy([a, b, c], x, b, b, 'os', { retainRollback: true })), ['x', 'b', 'c']);
    assert.deepEqual(names(listAfterDeploy([a, b, c], x, b, b, 'os', { retain: true })), ['x', 'a', 'b', 'c']);
    assert.deepEqual(names(listAfterDeploy([a, b], x, undefined, undefined, 'os', { retainRollback: true })), ['x', 'a', 'b'], 'nothing to cross over: retain all');
  });

  it('notAsDefault puts the new deployment right after the booted one', function () {
    assert.deepEqual(names(listAfterDeploy([a, b, c], x, a, a, 'os', { notAsDefault: true, retain: true })), ['a', 'x', 'b', 'c']);
    assert.deepEqual(names(listAfterDeploy([], x, undefined, undefined, 'os', { notAsDefault: true })), ['x']);
  });

  it('rollback: booted default -> the next one; booted not default -> the booted; not booted -> the second', function () {
    assert.deepEqual(names(listAfterRollback([a, b, c], a, 'os').list), ['b', 'a', 'c']);
    assert.deepEqual(names(listAfterRollback([a, b, c], b, 'os').list), ['b', 'a', 'c']);
    assert.deepEqual(names(listAfterRollback([a, b, c], undefined, 'os').list), ['b', 'a', 'c']);
    const s = dep('s', { staged: true });
    assert.deepEqual(names(listAfterRollback([s, a, b], a, 'os').list), ['b', 'a'], 'the staged deployment is not in the boot list');
    assert.throws(() => listAfterRollback([a], undefined, 'os'), (e: unknown) => isCanopyError(e, 'ERR_DEPLOYMENT_NOT_FOUND'));
  });

  it('undeploy removes one index and refuses the booted deployment or a bad index', function () {
    assert.deepEqual(names(listAfterUndeploy([a, b, c], a, 2).list), ['a', 'b']);
    assert.throws(() => listAfterUndeploy([a, b, c], b, 1), (e: unknown) => isCanopyError(e, 'ERR_BOOTED_DEPLOYMENT'));
    assert.throws(() => listAfterUndeploy([a, b, c], b, 3), (e: unknown) => isCanopyError(e, 'ERR_DEPLOYMENT_NOT_FOUND'));
  });
});
