/** The connect-rate limit's waiting line (connect-line.ts), on a fake clock and fake timers. */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ConnectLine } from '../src/connect-line.js';

let now = 0;
beforeEach(() => {
  vi.useFakeTimers();
  now = 0;
});
afterEach(() => vi.useRealTimers());

/** Moves the line's clock and the timers together. */
function advance(ms: number): void {
  for (let left = ms; left > 0; left -= 1) {
    now += 1;
    vi.advanceTimersByTime(1);
  }
}

describe('ConnectLine', () => {
  it('admits 4 at once, lets the next 8 wait (4 per 1 000 ms within 2 000 ms) and serves them in arrival order, 4 a second; refuses the 13th', () => {
    const line = new ConnectLine({ connects: 4, perMs: 1_000, maxWaitMs: 2_000 }, () => now);
    expect(line.capacity).toBe(8);
    const served: Array<[number, number]> = [];
    const verdicts = Array.from({ length: 13 }, (_, i) => line.admit(() => served.push([i, now])));
    expect(verdicts.slice(0, 4)).toEqual(['now', 'now', 'now', 'now']);
    expect(verdicts.slice(4, 12).every((v) => typeof v === 'object')).toBe(true);
    expect(verdicts[12]).toBe('refused');
    expect(line.counts()).toEqual({ waiting: 8, waited: 0 });
    advance(1_000);
    expect(served.map(([i]) => i)).toEqual([4, 5, 6, 7]);
    advance(1_000);
    expect(served.map(([i]) => i)).toEqual([4, 5, 6, 7, 8, 9, 10, 11]);
    // Each was served within maxWaitMs of its arrival (all arrived at 0).
    expect(Math.max(...served.map(([, at]) => at))).toBeLessThanOrEqual(2_000);
    expect(line.counts()).toEqual({ waiting: 0, waited: 8 });
    line.stop();
  });

  it('serves a newcomer behind those already waiting, even when a login has just come free', () => {
    const line = new ConnectLine({ connects: 1, perMs: 100, maxWaitMs: 1_000 }, () => now);
    const served: string[] = [];
    expect(line.admit(() => served.push('a'))).toBe('now');
    line.admit(() => served.push('b'));
    now += 150; // a login is free, but b is first
    line.admit(() => served.push('c'));
    advance(300);
    expect(served).toEqual(['b', 'c']);
    line.stop();
  });

  it('gives the place of a cancelled ticket to the next, and never calls it', () => {
    const line = new ConnectLine({ connects: 1, perMs: 100, maxWaitMs: 200 }, () => now);
    const served: string[] = [];
    line.admit(() => served.push('a'));
    const b = line.admit(() => served.push('b'));
    line.admit(() => served.push('c'));
    expect(line.admit(() => served.push('d'))).toBe('refused');
    if (typeof b !== 'object') throw new Error('b should wait');
    b.cancel();
    b.cancel(); // idempotent
    expect(line.counts().waiting).toBe(1);
    expect(typeof line.admit(() => served.push('e'))).toBe('object');
    advance(300);
    expect(served).toEqual(['c', 'e']);
    line.stop();
  });

  it('with maxWaitMs 0 refuses at once what is over the rate, as a plain token bucket', () => {
    const line = new ConnectLine({ connects: 2, perMs: 1_000, maxWaitMs: 0 }, () => now);
    expect([line.admit(() => {}), line.admit(() => {}), line.admit(() => {})]).toEqual(['now', 'now', 'refused']);
    now += 500;
    expect(line.admit(() => {})).toBe('now');
    expect(line.admit(() => {})).toBe('refused');
    line.stop();
  });

  it('calls nobody after stop() and refuses from then on; a clock stepping back mints no logins', () => {
    const line = new ConnectLine({ connects: 1, perMs: 1_000, maxWaitMs: 5_000 }, () => now);
    const served: number[] = [];
    now = 10_000;
    line.admit(() => served.push(0));
    now = 0; // NTP stepped the clock back
    expect(typeof line.admit(() => served.push(1))).toBe('object');
    line.stop();
    advance(5_000);
    expect(served).toEqual([]);
    expect(line.admit(() => {})).toBe('refused');
    expect(vi.getTimerCount()).toBe(0);
  });

  it('refuses options that cannot work', () => {
    expect(() => new ConnectLine({ connects: 0, perMs: 1_000, maxWaitMs: 0 })).toThrow(RangeError);
    expect(() => new ConnectLine({ connects: 1, perMs: 0, maxWaitMs: 0 })).toThrow(RangeError);
    expect(() => new ConnectLine({ connects: 1, perMs: 1_000, maxWaitMs: -1 })).toThrow(RangeError);
  });
});
