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

  /** When the earliest pending timer falls due, or undefined when none is pending. */
  nextDueMs(): number | undefined {
    let next: number | undefined;
    for (const t of this.timers.values()) if (next === undefined || t.dueMs < next) next = t.dueMs;
    return next;
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

/**
 * Real time sped up: `factor` simulated milliseconds pass per real millisecond,
 * from `startMs` (default: now). Timers fire after delay / factor real
 * milliseconds, so a simulated village lives a day in 24 minutes at 60×. Give
 * the server and the simulated devices the same instance so they agree on the
 * time.
 */
export class ScaledClock implements Clock {
  readonly factor: number;
  private readonly startMs: number;
  private readonly realStart: number;

  constructor(options: { factor: number; startMs?: number }) {
    if (!(Number.isFinite(options.factor) && options.factor >= 1 && options.factor <= 100_000)) {
      throw new RangeError(`ScaledClock factor must be between 1 and 100000, got ${options.factor}`);
    }
    this.factor = options.factor;
    this.realStart = performance.now();
    this.startMs = options.startMs ?? Date.now();
  }

  nowMs(): number {
    return Math.round(this.startMs + (performance.now() - this.realStart) * this.factor);
  }

  setTimeout(fn: () => void, delayMs: number): TimerHandle {
    // Node caps a timer at 2^31-1 ms (about 24.8 days); a longer wait is chained.
    const realMs = Math.max(0, delayMs) / this.factor;
    const box: { t: ReturnType<typeof setTimeout> | undefined } = { t: undefined };
    const dueMs = this.nowMs() + Math.max(0, delayMs);
    const arm = (ms: number): void => {
      box.t = setTimeout(() => {
        // Chained (long waits) or woken a hair early (Node's timers may fire up to a
        // millisecond early, which is `factor` simulated ms): wait for the rest, so a
        // timer never fires before it is due in simulated time.
        const left = dueMs - this.nowMs();
        if (left > 0) arm(left / this.factor);
        else fn();
      }, Math.min(ms, MAX_TIMER_MS));
    };
    arm(realMs);
    return box as unknown as TimerHandle;
  }

  clearTimeout(handle: TimerHandle | undefined): void {
    if (handle === undefined) return;
    const t = (handle as unknown as { t: ReturnType<typeof setTimeout> | undefined }).t;
    if (t !== undefined) clearTimeout(t);
  }
}

const MAX_TIMER_MS = 2 ** 31 - 1;
