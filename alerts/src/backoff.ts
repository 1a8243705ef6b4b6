/**
 * Retry schedule of the notification outbox: exponential from 5 s, capped at
 * 5 minutes, with ±20 % jitter so a provider outage does not end in a
 * thundering herd when it comes back.
 */
export interface BackoffPolicy {
  initialDelayMs: number;
  maxDelayMs: number;
  /** After this many failed attempts a notification is marked failed for good. */
  maxAttempts: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { initialDelayMs: 5_000, maxDelayMs: 5 * 60_000, maxAttempts: 12 };

/** Delay before attempt `attempts + 1`, given `attempts` failed so far (>= 1). `random` returns [0, 1). */
export function backoffDelayMs(attempts: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  const base = Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** Math.max(0, attempts - 1));
  const jitter = 0.8 + 0.4 * random();
  return Math.round(base * jitter);
}
