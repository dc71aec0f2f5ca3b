/** The rollout policy options shared by `publish` and `rollout start`. */
import type { RolloutPolicy } from '../fleet/index';
import { usageError, type OptionSpecs } from './cli-args';

export const POLICY_OPTIONS = {
  'max-failure-rate': { type: 'string', value: 'PERCENT', help: 'Pause when more than this share of a wave\'s settled devices failed (default 10)' },
  'min-sample': { type: 'string', value: 'N', help: '…judged once N devices of the wave settled, or all of a smaller wave (default 3)' },
  'success-threshold': { type: 'string', value: 'PERCENT', help: 'Open the next wave once this share of the devices so far is healthy (default 100)' },
  soak: { type: 'string', value: 'SECONDS', help: '…and the newest health verdict is this old (default 0)' },
} as const satisfies OptionSpecs;

function percent(name: string, v: string | undefined, min: number): number | undefined {
  if (v === undefined) return undefined;
  const n = /^\d+(\.\d+)?%?$/.test(v.trim()) ? Number(v.trim().replace(/%$/, '')) : NaN;
  if (!(n >= min && n <= 100)) throw usageError('rollout', `--${name} needs a percent in ${min}..100, not ${JSON.stringify(v)}`);
  return n / 100;
}

function whole(name: string, v: string | undefined, min: number): number | undefined {
  if (v === undefined) return undefined;
  const n = /^\d+$/.test(v.trim()) ? Number(v.trim()) : NaN;
  if (!(Number.isSafeInteger(n) && n >= min)) throw usageError('rollout', `--${name} needs a whole number >= ${min}, not ${JSON.stringify(v)}`);
  return n;
}

/** The policy values given on the command line (absent ones undefined). */
export function policyFrom(values: object): Partial<RolloutPolicy> {
  const v = values as Record<string, unknown>;
  const s = (k: string): string | undefined => (typeof v[k] === 'string' ? (v[k] as string) : undefined);
  const out: Partial<RolloutPolicy> = {};
  const mfr = percent('max-failure-rate', s('max-failure-rate'), 0);
  const ms = whole('min-sample', s('min-sample'), 1);
  const st = percent('success-threshold', s('success-threshold'), 0.01);
  const soak = whole('soak', s('soak'), 0);
  if (mfr !== undefined) out.maxFailureRate = mfr;
  if (ms !== undefined) out.minSample = ms;
  if (st !== undefined) out.successThreshold = st;
  if (soak !== undefined) out.soakSeconds = soak;
  return out;
}
