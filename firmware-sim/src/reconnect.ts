/**
 * How long a device waits before it connects again after a CONNACK 3 (server
 * unavailable: a reconnect storm paced by the gateway, or its registry down),
 * docs/protocol.md "Reconnect storms are paced by the gateway": a uniformly
 * random time between `minMs` and the upper bound, which starts at `firstMaxMs`
 * and doubles with each further refusal in a row, up to `capMs`.
 *
 * Why random and growing: the refused devices of one power cut must not all
 * come back in the same second (that is the storm again), and the more often
 * a device is refused the more devices are waiting, so it spreads wider. The
 * gateway lets a login over its rate wait for its turn for a few seconds
 * (gateway/src/connect-line.ts), so a refusal already means several seconds
 * of logins are ahead: coming back sooner than `minMs` would only be refused
 * again.
 */
import type { RandomSource } from './resend.js';

export interface RefusedRetryPolicy {
  /** Never sooner than this after a refusal, ms; default 1 000. */
  readonly minMs: number;
  /** Upper bound after the first refusal, ms; default 5 000. */
  readonly firstMaxMs: number;
  /** The upper bound stops doubling here, ms; default 60 000. */
  readonly capMs: number;
}

/** The contract's defaults: 1–5 s, 1–10 s, 1–20 s, 1–40 s, then 1–60 s. */
export const REFUSED_RETRY: Readonly<RefusedRetryPolicy> = Object.freeze({ minMs: 1_000, firstMaxMs: 5_000, capMs: 60_000 });

/** The wait after the `refusals`-th CONNACK 3 in a row (1 = the first). */
export function refusedRetryDelayMs(policy: RefusedRetryPolicy, refusals: number, random: RandomSource): number {
  const exponent = Math.min(Math.max(0, Math.floor(refusals) - 1), 30);
  const max = Math.max(policy.minMs, Math.min(policy.capMs, policy.firstMaxMs * 2 ** exponent));
  return Math.round(policy.minMs + random() * (max - policy.minMs));
}
