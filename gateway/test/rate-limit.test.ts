import { describe, expect, it } from 'vitest';
import { SlidingWindowCounter, TokenBucket } from '../src/rate-limit.js';

describe('TokenBucket', () => {
  it('allows a burst of 50 at one instant and refuses the 51st', () => {
    const bucket = new TokenBucket(50, 10_000, 0);
    for (let i = 0; i < 50; i++) expect(bucket.take(0)).toBe(true);
    expect(bucket.take(0)).toBe(false);
  });

  it('refills 5 tokens per second at 50 per 10 s', () => {
    const bucket = new TokenBucket(50, 10_000, 0);
    for (let i = 0; i < 50; i++) bucket.take(0);
    for (let i = 0; i < 5; i++) expect(bucket.take(1_000)).toBe(true);
    expect(bucket.take(1_000)).toBe(false);
  });

  it('never holds more than its capacity after a long idle hour', () => {
    const bucket = new TokenBucket(3, 1_000, 0);
    const taken = Array.from({ length: 5 }, () => bucket.take(3_600_000)).filter(Boolean).length;
    expect(taken).toBe(3);
  });

  it('does not mint tokens when the clock steps back 10 s', () => {
    const bucket = new TokenBucket(1, 10_000, 20_000);
    expect(bucket.take(20_000)).toBe(true);
    expect(bucket.take(10_000)).toBe(false);
    expect(bucket.take(20_000)).toBe(false);
  });
});

describe('SlidingWindowCounter', () => {
  it('allows 20 hits in a minute and refuses the 21st', () => {
    const counter = new SlidingWindowCounter(20, 60_000);
    for (let i = 0; i < 20; i++) expect(counter.hit(i * 1_000)).toBe(true);
    expect(counter.hit(20_000)).toBe(false);
  });

  it('forgets hits older than 60 s', () => {
    const counter = new SlidingWindowCounter(2, 60_000);
    expect(counter.hit(0)).toBe(true);
    expect(counter.hit(30_000)).toBe(true);
    expect(counter.hit(60_000)).toBe(true); // the hit at 0 has left the window
    expect(counter.hit(60_001)).toBe(false);
  });

  it('with a limit of 0 refuses the first hit', () => {
    expect(new SlidingWindowCounter(0, 60_000).hit(0)).toBe(false);
  });
});
