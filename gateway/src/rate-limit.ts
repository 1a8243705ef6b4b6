/**
 * Rate limits driven by an injected clock's `nowMs()`: no timers, so nothing
 * to clear and a FakeClock moves them in tests.
 */

/** Token bucket: up to `capacity` messages at once, refilled at `capacity` per `refillEveryMs`. */
export class TokenBucket {
  private tokens: number;
  private lastMs: number;

  constructor(
    private readonly capacity: number,
    private readonly refillEveryMs: number,
    nowMs: number,
  ) {
    if (!(capacity >= 1) || !(refillEveryMs > 0)) {
      throw new RangeError(`token bucket needs capacity >= 1 and refillEveryMs > 0, got ${capacity} and ${refillEveryMs}`);
    }
    this.tokens = capacity;
    this.lastMs = nowMs;
  }

  /** Takes one token; false when the bucket is empty (the caller is over its rate). */
  take(nowMs: number): boolean {
    // A clock that steps backwards (NTP) must not mint or destroy tokens.
    const elapsedMs = Math.max(0, nowMs - this.lastMs);
    this.lastMs = Math.max(this.lastMs, nowMs);
    this.tokens = Math.min(this.capacity, this.tokens + (elapsedMs * this.capacity) / this.refillEveryMs);
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

/** Counts hits in the last `windowMs`; `hit()` is false once more than `limit` fall in the window. */
export class SlidingWindowCounter {
  /** Timestamps of recent hits, oldest first; never longer than limit + 1. */
  private readonly hits: number[] = [];

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
  ) {
    if (!(limit >= 0) || !(windowMs > 0)) {
      throw new RangeError(`sliding window needs limit >= 0 and windowMs > 0, got ${limit} and ${windowMs}`);
    }
  }

  /** Records one hit; true while at most `limit` hits fall within the window ending now. */
  hit(nowMs: number): boolean {
    while (this.hits.length > 0 && (this.hits[0] as number) <= nowMs - this.windowMs) this.hits.shift();
    this.hits.push(nowMs);
    if (this.hits.length > this.limit + 1) this.hits.shift();
    return this.hits.length <= this.limit;
  }
}
