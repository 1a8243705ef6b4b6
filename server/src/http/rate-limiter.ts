/**
 * Counting requests per key (an answer code, a client address) in fixed
 * windows, on the injected clock. In memory: a restart forgets the counts,
 * which only lets a client start over, and the codes are too long to guess
 * anyway; the limit is there so a leaked or mistyped link cannot be hammered.
 */
export interface RateLimit {
  /** Requests allowed per window. */
  limit: number;
  windowMs: number;
}

/** Beyond this many keys, windows that have ended are dropped before a new one is counted. */
const PRUNE_ABOVE_KEYS = 10_000;

export class FixedWindowRateLimiter {
  private readonly windows = new Map<string, { startMs: number; count: number }>();

  constructor(
    private readonly rate: RateLimit,
    private readonly nowMs: () => number,
  ) {}

  /** Counts one request of `key`: 0 when allowed, else the milliseconds until the window ends. */
  hit(key: string): number {
    const now = this.nowMs();
    let window = this.windows.get(key);
    if (!window || now - window.startMs >= this.rate.windowMs) {
      if (!window && this.windows.size >= PRUNE_ABOVE_KEYS) this.prune(now);
      window = { startMs: now, count: 0 };
      this.windows.set(key, window);
    }
    window.count += 1;
    return window.count <= this.rate.limit ? 0 : Math.max(1, window.startMs + this.rate.windowMs - now);
  }

  private prune(now: number): void {
    for (const [key, w] of this.windows) if (now - w.startMs >= this.rate.windowMs) this.windows.delete(key);
  }
}
