/** The wait after a CONNACK 3 (reconnect.ts, docs/protocol.md "Reconnect storms are paced by the gateway"). */
import { describe, expect, it } from 'vitest';
import { REFUSED_RETRY, refusedRetryDelayMs, seededRandom } from '@kanjia/firmware-sim';

describe('refusedRetryDelayMs', () => {
  it('waits 1–5 s after the first refusal, 1–10 s after the second, 1–20 s, 1–40 s, then never more than 60 s', () => {
    const bounds = [5_000, 10_000, 20_000, 40_000, 60_000, 60_000, 60_000];
    bounds.forEach((max, k) => {
      expect(refusedRetryDelayMs(REFUSED_RETRY, k + 1, () => 0)).toBe(1_000);
      expect(refusedRetryDelayMs(REFUSED_RETRY, k + 1, () => 0.999_999_9)).toBe(max);
    });
    expect(refusedRetryDelayMs(REFUSED_RETRY, 1_000, () => 0.999_999_9)).toBe(60_000);
  });

  it('spreads 10,000 devices refused once over 1–5 s: no second of it gets more than a third of them', () => {
    const random = seededRandom(7);
    const perSecond = [0, 0, 0, 0, 0];
    for (let i = 0; i < 10_000; i++) {
      const ms = refusedRetryDelayMs(REFUSED_RETRY, 1, random);
      expect(ms).toBeGreaterThanOrEqual(1_000);
      expect(ms).toBeLessThanOrEqual(5_000);
      perSecond[Math.min(4, Math.floor(ms / 1_000))]! += 1;
    }
    // Uniform over 4 s: about 2,500 a second (none before 1 s).
    expect(perSecond[0]).toBe(0);
    expect(Math.max(...perSecond)).toBeLessThan(3_334);
  });
});
