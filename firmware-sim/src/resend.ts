/**
 * The device's resend schedule for an event still waiting for its `received`
 * (docs/protocol.md, "The SOS rule"): exponential backoff with equal jitter.
 *
 * The n-th resend (n = 1, 2, …) waits a uniformly random time between half
 * and all of `min(cap, base × 2^n)`: with the defaults (base 5 s, cap 60 s)
 * 5–10 s, 10–20 s, 20–40 s, then 30–60 s for every later copy. It is never
 * sooner than `base` and never later than `cap`. A fixed 5 s resend multiplied
 * the load by the number of seconds an overloaded server took to answer; with
 * the backoff a device sends at most 6 copies in the first two minutes (25 before).
 */

/** Defaults of the contract: first resend 5–10 s after the press, none more than 60 s apart. */
export const RESEND_BASE_MS = 5000;
export const RESEND_CAP_MS = 60_000;
/** Without an explicit cap the ceiling is this many times the base (60 s for 5 s), so a test's short base keeps the same shape. */
export const RESEND_CAP_FACTOR = 12;

/** A source of uniform numbers in [0, 1). */
export type RandomSource = () => number;

/** A small deterministic generator (mulberry32) for tests and load runs that must be reproducible. */
export function seededRandom(seed: number): RandomSource {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface ResendPolicy {
  /** Lower bound of the first resend; default 5000 ms. */
  readonly baseMs: number;
  /** No wait longer than this; default 12 × base (60 s). */
  readonly capMs: number;
}

export function resendPolicy(baseMs = RESEND_BASE_MS, capMs?: number): ResendPolicy {
  return { baseMs, capMs: Math.max(baseMs, capMs ?? baseMs * RESEND_CAP_FACTOR) };
}

/** The wait before resend number `n` (1 = the first resend, after the first copy); `random` gives the jitter. */
export function resendDelayMs(policy: ResendPolicy, n: number, random: RandomSource): number {
  // 2^n overflows nothing: the exponent stops growing once the window reached the cap.
  const exponent = Math.min(Math.max(1, Math.floor(n)), 40);
  const window = Math.min(policy.capMs, policy.baseMs * 2 ** exponent);
  const delay = window / 2 + random() * (window / 2);
  return Math.max(policy.baseMs, Math.min(policy.capMs, Math.round(delay)));
}

/**
 * How long a device that just reconnected waits before it flushes its buffered
 * events: a random 0–`maxMs`, so that devices back from the same power cut do
 * not all send in the same millisecond. An event pressed after the reconnect
 * goes at once.
 */
export function flushDelayMs(maxMs: number, random: RandomSource): number {
  return maxMs <= 0 ? 0 : Math.round(random() * maxMs);
}

/** Default spread of the reconnect flush: 1 s, or the resend base if shorter (tests with a 100 ms base). */
export function defaultFlushJitterMs(baseMs: number): number {
  return Math.min(1000, baseMs);
}
