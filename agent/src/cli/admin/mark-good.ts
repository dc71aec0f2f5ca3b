/**
 * `canopy-agent admin mark-good`: confirm the booted deployment by hand, as a passing
 * health check would (the boot loader's trial ends; the deployment stays the default).
 * Refused (ERR_BOOT_STATE) while a fallback is recorded or when the previous entry was
 * booted: confirming then would make the other, failed deployment the default again.
 */
import { CanopyError } from '../../core/errors';
import { markBootedGood } from '../../health/index';
import { nameOf } from '../../sysroot/index';
import { defineCommand } from '../command';
import { SYSROOT_ONLY, sysrootPath } from './common';
import { HEALTH_BOOT_OPTIONS, backendFor, bootView } from './health-context';

export const markGoodCommand = defineCommand({
  name: 'admin mark-good',
  summary: 'Confirm the booted deployment by hand (end its trial boot)',
  usage: '',
  options: {
    ...SYSROOT_ONLY,
    bootloader: HEALTH_BOOT_OPTIONS.bootloader,
    'fw-env-config': HEALTH_BOOT_OPTIONS['fw-env-config'],
    grubenv: HEALTH_BOOT_OPTIONS.grubenv,
  },
  operands: [0, 0],
  repo: false,
}, async (ctx, { values }) => {
  const sysroot = sysrootPath(ctx, values.sysroot);
  const view = bootView(sysroot);
  if (!view.booted || view.bootedEntry === null) {
    throw new CanopyError('ERR_NOT_BOOTED', `not booted from a deployment of ${sysroot}: there is nothing to confirm`, { sysroot });
  }
  const backend = await backendFor(sysroot, values);
  const before = await backend.readState();
  const after = await markBootedGood({ backend }, { bootedEntry: view.bootedEntry });
  const deployment = nameOf(view.booted);
  ctx.out.result({ deployment, bootloader: backend.name, wasTrial: before.summary.trial, bootState: after.summary },
    () => (before.summary.trial ? `Deployment ${deployment} confirmed: its trial boot ended` : `Deployment ${deployment} was not on trial: nothing to confirm`));
});
