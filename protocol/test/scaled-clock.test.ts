import { describe, expect, it } from 'vitest';
import { ScaledClock } from '../src/clock.js';

describe('ScaledClock', () => {
  it('runs simulated time factor times faster than real time, from startMs', async () => {
    const clock = new ScaledClock({ factor: 1000, startMs: Date.UTC(2026, 10, 23, 0, 0) });
    const t0 = clock.nowMs();
    expect(t0 - Date.UTC(2026, 10, 23, 0, 0)).toBeLessThan(1000);
    const realStart = performance.now();
    await new Promise<void>((resolve) => clock.setTimeout(resolve, 60_000)); // one simulated minute
    const real = performance.now() - realStart;
    expect(real).toBeGreaterThanOrEqual(55);
    expect(real).toBeLessThan(2000);
    expect(clock.nowMs() - t0).toBeGreaterThanOrEqual(60_000);
  });

  it('fires timers in due order and not before they are due', async () => {
    const clock = new ScaledClock({ factor: 2000 });
    const fired: Array<{ name: string; late: number }> = [];
    const start = clock.nowMs();
    await new Promise<void>((resolve) => {
      for (const [name, ms] of [['c', 90_000], ['a', 10_000], ['b', 40_000]] as const) {
        clock.setTimeout(() => {
          fired.push({ name, late: clock.nowMs() - (start + ms) });
          if (fired.length === 3) resolve();
        }, ms);
      }
    });
    expect(fired.map((f) => f.name)).toEqual(['a', 'b', 'c']);
    for (const f of fired) expect(f.late).toBeGreaterThanOrEqual(0); // never before it is due
  });

  it('cancels a timer', async () => {
    const clock = new ScaledClock({ factor: 1000 });
    let fired = false;
    const handle = clock.setTimeout(() => (fired = true), 20_000);
    clock.clearTimeout(handle);
    await new Promise((r) => setTimeout(r, 60));
    expect(fired).toBe(false);
  });

  it('refuses a factor outside 1–100000', () => {
    expect(() => new ScaledClock({ factor: 0 })).toThrow(/between 1 and 100000/);
    expect(() => new ScaledClock({ factor: Number.NaN })).toThrow(/between 1 and 100000/);
    expect(() => new ScaledClock({ factor: 1e6 })).toThrow(/between 1 and 100000/);
  });
});
