/**
 * Time as an injected dependency (CONVENTIONS.md §6). Production code takes a
 * Clock; tests drive a FakeClock with advance(), so "5 minutes without an
 * answer" runs in microseconds.
 */

export interface TimerHandle {
  readonly __timer: true;
}

export interface Clock {
  /** Milliseconds since the Unix epoch. */
  nowMs(): number;
  setTimeout(fn: () => void, delayMs: number): TimerHandle;
  clearTimeout(handle: TimerHandle | undefined): void;
}

/** The real clock. */
export const systemClock: Clock = {
  nowMs: () => Date.now(),
  setTimeout: (fn, delayMs) => setTimeout(fn, Math.max(0, delayMs)) as unknown as TimerHandle,
  clearTimeout: (handle) => {
    if (handle !== undefined) clearTimeout(handle as unknown as ReturnType<typeof setTimeout>);
  },
};

interface FakeTimer {
  seq: number;
  dueMs: number;
  fn: () => void;
}

/** A clock that moves only when told; timers fire in due order inside advance(). */
export class FakeClock implements Clock {
  private now: number;
  private seq = 0;
  private readonly timers = new Map<number, FakeTimer>();

  constructor(startMs = Date.UTC(2026, 0, 15, 2, 0, 0)) {
    this.now = startMs;
  }

  nowMs(): number {
    return this.now;
  }

  setTimeout(fn: () => void, delayMs: number): TimerHandle {
    const seq = ++this.seq;
    this.timers.set(seq, { seq, dueMs: this.now + Math.max(0, delayMs), fn });
    return { __timer: true, seq } as unknown as TimerHandle;
  }

  clearTimeout(handle: TimerHandle | undefined): void {
    if (handle === undefined) return;
    this.timers.delete((handle as unknown as { seq: number }).seq);
  }

  /** Number of timers not yet fired. */
  pendingTimers(): number {
    return this.timers.size;
  }

  /** Moves time forward by `ms`, firing every timer that falls due, in order. */
  advance(ms: number): void {
    const target = this.now + ms;
    for (;;) {
      let next: FakeTimer | undefined;
      for (const t of this.timers.values()) {
        if (t.dueMs <= target && (next === undefined || t.dueMs < next.dueMs || (t.dueMs === next.dueMs && t.seq < next.seq))) next = t;
      }
      if (next === undefined) break;
      this.timers.delete(next.seq);
      this.now = Math.max(this.now, next.dueMs);
      next.fn();
    }
    this.now = target;
  }

  /** Sets the time; only forward moves fire timers. */
  set(ms: number): void {
    if (ms >= this.now) this.advance(ms - this.now);
    else this.now = ms;
  }
}
