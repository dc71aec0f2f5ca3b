/**
 * The environment a check runs in: a clean, minimal one (nothing inherited from the
 * agent, so a check behaves the same from the boot unit and from a shell) plus `CANOPY_*`
 * variables that describe the deployment and the check:
 *
 * | variable | value |
 * | --- | --- |
 * | `PATH` | `/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin` |
 * | `LC_ALL` | `C` |
 * | `CANOPY_COMMIT` | the booted commit (64 hex digits), when known |
 * | `CANOPY_OSNAME` | the stateroot, when known |
 * | `CANOPY_VERSION` | the commit's version, when known |
 * | `CANOPY_DEPLOYMENT` | the deployment directory, when known |
 * | `CANOPY_BOOTLOADER` | `uboot`, `grub` or `none`, when known |
 * | `CANOPY_TRIAL` | `1` while the boot is on trial, else `0` (when known) |
 * | `CANOPY_TRIES_LEFT` | trial boots left (trial only) |
 * | `CANOPY_CHECK_KIND` | `required`, `wanted`, `green` or `red` |
 * | `CANOPY_CHECK_NAME` | the file name |
 * | `CANOPY_CHECK_ATTEMPT` | 1 for the first attempt, 2 for the first retry, … |
 * | `CANOPY_CHECK_TIMEOUT` | seconds the attempt may take |
 * | `CANOPY_HEALTH` | hooks only: `green` or `red` |
 * | `CANOPY_HEALTH_FAILED` | hooks only: names of the failed required checks, space-separated |
 * | `CANOPY_HEALTH_ACTION` | hooks only, when known: `marked-good`, `marked-bad` or `none` |
 */
import { CanopyError } from '../core/errors';
import type { HealthDirKind } from './check-result';

/** What the checks are told about the deployment. */
export interface DeploymentContext {
  commit?: string | null;
  osname?: string | null;
  version?: string | null;
  deployment?: string | null;
  bootloader?: string | null;
  trial?: boolean;
  triesLeft?: number;
}

/** The fixed part of every check's environment. */
export const BASE_CHECK_ENV: Readonly<Record<string, string>> = {
  PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  LC_ALL: 'C',
};

const MAX_VALUE = 4096;

function put(env: Record<string, string>, name: string, value: string | number | null | undefined): void {
  if (value === null || value === undefined) return;
  const s = String(value);
  if (s.includes('\0') || s.length > MAX_VALUE) {
    throw new CanopyError('ERR_INVALID_ARGUMENT', `${name} for a health check contains a NUL byte or is longer than ${MAX_VALUE} characters`, { name });
  }
  env[name] = s;
}

/**
 * The environment for one attempt.
 *
 * @throws ERR_INVALID_ARGUMENT for a value with a NUL byte or longer than 4096 characters.
 */
export function checkEnv(
  ctx: DeploymentContext,
  check: { kind: HealthDirKind; name: string; attempt: number; timeoutMs: number },
  extra: Readonly<Record<string, string>> = {},
): Record<string, string> {
  const env: Record<string, string> = { ...BASE_CHECK_ENV };
  put(env, 'CANOPY_COMMIT', ctx.commit);
  put(env, 'CANOPY_OSNAME', ctx.osname);
  put(env, 'CANOPY_VERSION', ctx.version);
  put(env, 'CANOPY_DEPLOYMENT', ctx.deployment);
  put(env, 'CANOPY_BOOTLOADER', ctx.bootloader);
  if (ctx.trial !== undefined) put(env, 'CANOPY_TRIAL', ctx.trial ? '1' : '0');
  if (ctx.trial) put(env, 'CANOPY_TRIES_LEFT', ctx.triesLeft);
  put(env, 'CANOPY_CHECK_KIND', check.kind);
  put(env, 'CANOPY_CHECK_NAME', check.name);
  put(env, 'CANOPY_CHECK_ATTEMPT', check.attempt);
  put(env, 'CANOPY_CHECK_TIMEOUT', String(Math.ceil(check.timeoutMs / 1000)));
  for (const [k, v] of Object.entries(extra)) {
    if (!/^CANOPY_[A-Z0-9_]+$/.test(k)) throw new CanopyError('ERR_INVALID_ARGUMENT', `health-check variable ${JSON.stringify(k)} is not CANOPY_[A-Z0-9_]+`, { name: k });
    put(env, k, v);
  }
  return env;
}
