import { FakeClock } from '@kanjia/protocol';
import { describe, expect, it } from 'vitest';
import { DEFAULT_PRESENCE_DEBOUNCE, PresenceDebouncer, type DebouncedPresence } from '../src/presence.js';

const T0 = Date.UTC(2026, 0, 15, 2, 0, 0);
const { holdMs, stableAfterMs } = DEFAULT_PRESENCE_DEBOUNCE;

function setup() {
  const clock = new FakeClock(T0);
  const out: DebouncedPresence[] = [];
  const debouncer = new PresenceDebouncer(clock, (p) => out.push(p));
  const flip = (online: boolean) => debouncer.change({ deviceId: 'btn-1', online, atMs: clock.nowMs(), firmware: '1.2.0' });
  return { clock, out, debouncer, flip };
}

describe('PresenceDebouncer', () => {
  it(`passes a drop on at once and the return ${holdMs / 1000} s after it, with the time of the return; one drop is not unstable`, () => {
    const { clock, out, flip } = setup();
    flip(true);
    clock.advance(60_000);
    flip(false);
    clock.advance(2_000);
    flip(true);
    expect(out.map((p) => [p.online, p.atMs - T0])).toEqual([
      [true, 0],
      [false, 60_000],
    ]);
    clock.advance(holdMs - 2_000 - 1);
    expect(out).toHaveLength(2);
    clock.advance(1);
    expect(out.at(-1)).toEqual({ deviceId: 'btn-1', online: true, atMs: T0 + 62_000, firmware: '1.2.0', unstable: false, stateChanged: true });
    expect(clock.pendingTimers()).toBe(0);
  });

  it('a device flapping online/offline 50 times in 8 s is passed on at most 3 times, unstable after its 7th change, and ends in its last state', () => {
    const { clock, out, debouncer, flip } = setup();
    for (let i = 0; i < 50; i++) {
      flip(true);
      clock.advance(80);
      flip(false);
      clock.advance(80);
    }
    flip(true); // it stays connected
    const during = out.length;
    clock.advance(holdMs);
    expect(during).toBeLessThanOrEqual(2);
    expect(out.length).toBeLessThanOrEqual(3);
    expect(debouncer.isUnstable('btn-1')).toBe(true);
    // Online was passed on mid-storm and it ended online: nothing more to say.
    expect(out.at(-1)).toMatchObject({ online: true, unstable: true });
    expect(out.filter((p) => p.unstable).length).toBeGreaterThan(0);
    // Quiet for 5 min: stable again, the state unchanged.
    clock.advance(stableAfterMs);
    expect(out.at(-1)).toMatchObject({ online: true, unstable: false, stateChanged: false });
    expect(debouncer.isUnstable('btn-1')).toBe(false);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('a device that flaps and ends offline is passed on offline, at the time of its last drop', () => {
    const { clock, out, flip } = setup();
    for (let i = 0; i < 20; i++) {
      flip(true);
      clock.advance(100);
      flip(false);
      clock.advance(100);
    }
    clock.advance(holdMs);
    expect(out.at(-1)).toMatchObject({ online: false, unstable: true, atMs: T0 + 19 * 200 + 100 });
  });

  it('stop() passes on what it held and clears its timers', () => {
    const { clock, out, debouncer, flip } = setup();
    flip(true);
    flip(false);
    expect(out.map((p) => p.online)).toEqual([true]);
    debouncer.stop();
    expect(out.map((p) => p.online)).toEqual([true, false]);
    expect(clock.pendingTimers()).toBe(0);
    debouncer.stop();
    flip(true);
    expect(out).toHaveLength(2);
  });
});
