/**
 * Reconnect and retry delays: exponential growth with jitter, so a fleet
 * that lost its broker does not come back all in the same second. Pure.
 *
 *   cap   = min(maxMs, initialMs * factor^attempt)
 *   delay = cap * (1 - jitter * random())       random() in [0, 1)
 *
 * With the default jitter 0.5 each delay lies in [cap/2, cap] (rounded to ms).
 */
export interface BackoffPolicy {
  /** First delay, in ms (default 1000). */
  initialMs: number;
  /** Largest delay, in ms (default 300000). */
  maxMs: number;
  /** Growth per attempt (default 2). */
  factor: number;
  /** Fraction of the delay that is random, 0..1 (default 0.5). */
  jitter: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 1000, maxMs: 300_000, factor: 2, jitter: 0.5 };

/** The delay before retry number `attempt` (0 for the first retry). */
export function backoffDelay(attempt: number, policy: Partial<BackoffPolicy> = {}, random: () => number = Math.random): number {
  const p = { ...DEFAULT_BACKOFF, ...policy };
  const cap = Math.min(p.maxMs, p.initialMs * p.factor ** Math.min(Math.max(attempt, 0), 64));
  const j = Math.min(Math.max(p.jitter, 0), 1);
  return Math.max(1, Math.round(cap * (1 - j * random())));
}
